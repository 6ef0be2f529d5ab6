from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.ordering import FIRST, LAST, MIDDLE, tier_of, tier_order

from .conftest import HAS_RANDOMLY, HAS_XDIST


def test_tier_of() -> None:
    assert tier_of({"smoke"}) == FIRST
    assert tier_of({"slow", "db"}) == LAST
    assert tier_of({"smoke", "slow"}) == FIRST
    assert tier_of(set()) == MIDDLE


def test_tier_order_stable_and_grouped() -> None:
    ids = [
        "a.py::test_1",  # slow
        "b.py::test_1",
        "a.py::T::test_2",  # slow
        "b.py::test_2",  # smoke
        "a.py::test_3",  # slow, after a class test of the same module
        "c.py::test_1",
    ]
    tiers = [LAST, MIDDLE, LAST, FIRST, LAST, MIDDLE]
    order = [ids[i] for i in tier_order(tiers, ids)]
    assert order == [
        "b.py::test_2",
        "b.py::test_1",
        "c.py::test_1",
        "a.py::test_1",
        "a.py::test_3",
        "a.py::T::test_2",
    ]


def test_tier_order_keeps_parametrized_ids_with_colons_together() -> None:
    ids = ["a.py::test_x[a::b]", "a.py::test_y", "a.py::test_x[c]"]
    assert tier_order([LAST, MIDDLE, LAST], ids) == [1, 0, 2]


nodeids = st.lists(
    st.tuples(
        st.sampled_from(["a.py", "b.py", "d/c.py"]),
        st.sampled_from(["", "T::", "T::U::"]),
        st.integers(0, 5),
    ).map(lambda t: f"{t[0]}::{t[1]}test_{t[2]}"),
    max_size=40,
)


@given(st.data())
def test_tier_order_properties(data: st.DataObject) -> None:
    ids = data.draw(nodeids)
    tiers = data.draw(st.lists(st.sampled_from([FIRST, MIDDLE, LAST]), min_size=len(ids),
                               max_size=len(ids)))  # fmt: skip
    order = tier_order(tiers, ids)
    assert sorted(order) == list(range(len(ids)))  # a permutation
    assert [tiers[i] for i in order] == sorted(tiers)  # tiers ascending
    middle = [i for i in order if tiers[i] == MIDDLE]
    assert middle == sorted(middle)  # the middle keeps its order
    for tier in (FIRST, LAST):  # each module appears as one run inside a moved tier
        modules = [ids[i].split("::")[0] for i in order if tiers[i] == tier]
        runs = [m for k, m in enumerate(modules) if k == 0 or modules[k - 1] != m]
        assert len(runs) == len(set(runs))
    assert tier_order(tiers, ids) == order  # deterministic


SUITE = {
    "test_alpha.py": """
        import pytest

        def test_a1(): pass

        @pytest.mark.slow
        def test_a2_slow(): pass

        @pytest.mark.smoke
        def test_a3_smoke(): pass

        def test_a4(): pass
    """,
    "test_beta.py": """
        import pytest

        pytestmark = []

        @pytest.mark.slow
        def test_b1_slow(): pass

        def test_b2(): pass

        class TestGroup:
            @pytest.mark.smoke
            def test_b3_smoke(self): pass

            def test_b4(self): pass

        @pytest.mark.parametrize("n", [1, 2])
        def test_b5(n): pass

        @pytest.mark.parametrize("n", [pytest.param(1, marks=pytest.mark.slow), 2])
        def test_b6(n): pass
    """,
    "test_gamma.py": """
        import pytest

        pytestmark = pytest.mark.slow

        def test_c1(): pass
    """,
}

EXPECTED = [
    "test_alpha.py::test_a3_smoke",
    "test_beta.py::TestGroup::test_b3_smoke",
    "test_alpha.py::test_a1",
    "test_alpha.py::test_a4",
    "test_beta.py::test_b2",
    "test_beta.py::TestGroup::test_b4",
    "test_beta.py::test_b5[1]",
    "test_beta.py::test_b5[2]",
    "test_beta.py::test_b6[2]",
    "test_alpha.py::test_a2_slow",
    "test_beta.py::test_b1_slow",
    "test_beta.py::test_b6[1]",
    "test_gamma.py::test_c1",
]

ORIGINAL = [
    "test_alpha.py::test_a1",
    "test_alpha.py::test_a2_slow",
    "test_alpha.py::test_a3_smoke",
    "test_alpha.py::test_a4",
    "test_beta.py::test_b1_slow",
    "test_beta.py::test_b2",
    "test_beta.py::TestGroup::test_b3_smoke",
    "test_beta.py::TestGroup::test_b4",
    "test_beta.py::test_b5[1]",
    "test_beta.py::test_b5[2]",
    "test_beta.py::test_b6[1]",
    "test_beta.py::test_b6[2]",
    "test_gamma.py::test_c1",
]

# Every test appends its id to a file named after the process that ran it.
RECORDER = """
    import os

    def pytest_runtest_call(item):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "master")
        with open(f"ran-{worker}.txt", "a") as f:
            f.write(item.nodeid + "\\n")
"""


def ran(pytester: pytest.Pytester) -> dict[str, list[str]]:
    return {
        path.stem.removeprefix("ran-"): path.read_text().split()
        for path in sorted(pytester.path.glob("ran-*.txt"))
    }


def passed_lines(ids: list[str]) -> list[str]:
    return [f"{nodeid} PASSED" for nodeid in ids]


def test_tiers_exact_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**SUITE)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=len(EXPECTED))
    result.stdout.fnmatch_lines(passed_lines(EXPECTED), consecutive=True)


def test_default_is_tiers_and_off_keeps_pytest_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**SUITE)
    pytester.runpytest("-v", "--tempo-order=off").stdout.fnmatch_lines(
        passed_lines(ORIGINAL), consecutive=True
    )
    pytester.runpytest("-v", "-o", "tempo_order=off").stdout.fnmatch_lines(
        passed_lines(ORIGINAL), consecutive=True
    )
    pytester.runpytest("-v", "--tempo-order=tiers").stdout.fnmatch_lines(
        passed_lines(EXPECTED), consecutive=True
    )


@pytest.mark.parametrize("disable", ["no:tempo", "no:tempo-ordering"])
def test_switched_off(pytester: pytest.Pytester, disable: str) -> None:
    pytester.makepyfile(**SUITE)
    result = pytester.runpytest(
        "-v", "-p", disable, "-W", "ignore::pytest.PytestUnknownMarkWarning"
    )
    result.stdout.fnmatch_lines(passed_lines(ORIGINAL), consecutive=True)


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(nodeid in it for nodeid in part)


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
@pytest.mark.parametrize("dist", ["load", "loadscope", "worksteal"])
def test_order_under_xdist(pytester: pytest.Pytester, dist: str) -> None:
    pytester.makepyfile(**SUITE)
    pytester.makeconftest(RECORDER)
    result = pytester.runpytest("-n", "2", f"--dist={dist}")
    result.assert_outcomes(passed=len(EXPECTED))
    assert "Different tests were collected" not in result.stdout.str()
    runs = ran(pytester)
    assert sorted(nodeid for ids in runs.values() for nodeid in ids) == sorted(EXPECTED)
    for ids in runs.values():
        if dist == "load":
            assert is_subsequence(ids, EXPECTED), ids
        elif dist == "loadscope":  # a scope (module or class) runs whole, in tier order
            scopes = {nodeid.rsplit("::", 1)[0] for nodeid in ids}
            for scope in scopes:
                mine = [n for n in ids if n.rsplit("::", 1)[0] == scope]
                assert is_subsequence(mine, EXPECTED), mine
        # worksteal hands the tail of one worker's queue to another: only once each counts


def test_keyword_and_marker_selection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**SUITE)
    result = pytester.runpytest("-v", "-m", "not slow", "-k", "alpha or b5")
    result.assert_outcomes(passed=5, deselected=8)
    result.stdout.fnmatch_lines(
        passed_lines(
            [
                "test_alpha.py::test_a3_smoke",
                "test_alpha.py::test_a1",
                "test_alpha.py::test_a4",
                "test_beta.py::test_b5[1]",
                "test_beta.py::test_b5[2]",
            ]
        ),
        consecutive=True,
    )


def test_failed_first_runs_failures_first_then_tiers(pytester: pytest.Pytester) -> None:
    suite = dict(SUITE)
    suite["test_gamma.py"] += "\n        def test_c2_fails(): assert 0\n"
    pytester.makepyfile(**suite)
    pytester.runpytest().assert_outcomes(passed=13, failed=1)
    result = pytester.runpytest("-v", "--failed-first")
    result.assert_outcomes(passed=13, failed=1)
    result.stdout.fnmatch_lines(
        ["test_gamma.py::test_c2_fails FAILED", *passed_lines(EXPECTED)], consecutive=True
    )


def test_stepwise_resumes_in_tier_order(pytester: pytest.Pytester) -> None:
    suite = dict(SUITE)
    suite["test_alpha.py"] = suite["test_alpha.py"].replace(
        "def test_a4(): pass",
        "def test_a4():\n            import os; assert not os.path.exists('bad')",
    )
    pytester.makepyfile(**suite)
    pytester.path.joinpath("bad").touch()
    result = pytester.runpytest("-v", "--stepwise")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [*passed_lines(EXPECTED[:3]), "test_alpha.py::test_a4 FAILED"], consecutive=True
    )
    pytester.path.joinpath("bad").unlink()
    result = pytester.runpytest("-v", "--stepwise")
    # stepwise skips what passed before the failure: it saw the tiered order.
    result.assert_outcomes(passed=len(EXPECTED) - 3, deselected=3)
    result.stdout.fnmatch_lines(passed_lines(EXPECTED[3:]), consecutive=True)


def test_pytest_order_markers_win(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_plain(): pass

        @pytest.mark.smoke
        def test_smoke(): pass

        @pytest.mark.slow
        @pytest.mark.order(1)
        def test_slow_but_ordered_first(): pass
        """
    )
    result = pytester.runpytest("-v", "-p", "pytest_order")
    result.stdout.fnmatch_lines(
        passed_lines(
            [
                "test_pytest_order_markers_win.py::test_slow_but_ordered_first",
                "test_pytest_order_markers_win.py::test_smoke",
                "test_pytest_order_markers_win.py::test_plain",
            ]
        ),
        consecutive=True,
    )


RANDOM_SUITE = {
    f"test_mod{m}.py": "\n".join(
        ["import pytest"]
        + [f"def test_{m}_{t}(): pass" for t in range(6)]
        + [f"@pytest.mark.smoke\ndef test_{m}_smoke(): pass"]
        + [f"@pytest.mark.slow\ndef test_{m}_slow(): pass"]
    )
    for m in range(4)
}


def collected(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest("--collect-only", "-q", *args)
    return [line for line in result.outlines if "::" in line]


@pytest.mark.skipif(not HAS_RANDOMLY, reason="pytest-randomly is not installed")
@pytest.mark.slow
def test_with_pytest_randomly(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_ADDOPTS")
    pytester.makepyfile(**RANDOM_SUITE)
    first = collected(pytester, "-p", "randomly", "-p", "no:cacheprovider", "--randomly-seed=1")
    again = collected(pytester, "-p", "randomly", "-p", "no:cacheprovider", "--randomly-seed=1")
    other = collected(pytester, "-p", "randomly", "-p", "no:cacheprovider", "--randomly-seed=2")
    assert first == again  # deterministic for one seed
    for order in (first, other):
        assert len(order) == 32
        assert all(n.endswith("_smoke") for n in order[:4])
        assert all(n.endswith("_slow") for n in order[-4:])
    assert first[4:-4] != other[4:-4]  # the shuffle survives among ties
    shuffled = collected(pytester, "-p", "randomly", "--randomly-seed=1", "--tempo-order=off")
    assert [n for n in shuffled if not n.endswith(("_smoke", "_slow"))] == first[4:-4]
    if HAS_XDIST:
        result = pytester.runpytest("-p", "randomly", "--randomly-seed=3", "-n", "2")
        result.assert_outcomes(passed=32)


FIXTURE_SUITE = {
    "conftest.py": """
        import pytest

        def count(name):
            with open("setups.txt", "a") as f:
                f.write(name + "\\n")

        @pytest.fixture(scope="module")
        def mod(request):
            count(request.module.__name__)

        @pytest.fixture(scope="class")
        def cls(request):
            count(request.cls.__name__)
    """,
    "test_one.py": """
        import pytest

        @pytest.mark.slow
        def test_1(mod): pass

        @pytest.mark.usefixtures("cls")
        class TestA:
            @pytest.mark.slow
            def test_2(self, mod): pass

            @pytest.mark.smoke
            def test_3(self, mod): pass

            @pytest.mark.slow
            def test_4(self, mod): pass

        def test_5(mod): pass

        @pytest.mark.slow
        def test_6(mod): pass

        @pytest.mark.smoke
        def test_7(mod): pass
    """,
    "test_two.py": """
        import pytest

        @pytest.mark.slow
        def test_1(mod): pass

        def test_2(mod): pass

        @pytest.mark.slow
        def test_3(mod): pass
    """,
}


def test_fixture_setups_once_per_tier(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**FIXTURE_SUITE)
    pytester.runpytest("-v").assert_outcomes(passed=10)
    setups = pytester.path.joinpath("setups.txt").read_text().split()
    # smoke: one::TestA::test_3, one::test_7 | middle: one::test_5, two::test_2 | slow: one
    # (functions, then the class), two. test_one's smoke and middle tests touch, so its
    # fixture lives on; the class's slow tests run together, after the module's functions.
    assert setups == ["test_one", "TestA", "test_two", "test_one", "TestA", "test_two"]


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
def test_fixture_setups_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**FIXTURE_SUITE)
    pytester.runpytest("-n", "2", "--dist=loadfile").assert_outcomes(passed=10)
    setups = pytester.path.joinpath("setups.txt").read_text().split()
    # A worker runs a subsequence of the serial order, so never more set-ups than serially.
    assert setups.count("TestA") == 2
    assert 1 <= setups.count("test_one") <= 2
    assert 1 <= setups.count("test_two") <= 2


def test_the_store_is_read_once_and_only_for_a_non_empty_collection(
    pytester: pytest.Pytester,
) -> None:
    from pytest_tempo.ordering import OrderingPlugin

    reads: list[int] = []
    items = pytester.getitems("def test_slow(): pass\ndef test_fast(): pass\n")
    slow = items[0].nodeid

    def source() -> tuple[dict[str, float], dict[str, float]]:
        reads.append(1)
        return {slow: 5.0}, {}

    plugin = OrderingPlugin("tiers", threshold=1.0, source=source)
    plugin.pytest_collection_modifyitems([])
    assert reads == []  # nothing collected: the store is never read
    plugin.pytest_collection_modifyitems(items)
    assert [item.name for item in items] == ["test_fast", "test_slow"]  # recorded slow: last
    items.reverse()
    plugin.pytest_collection_modifyitems(items)  # a second collection (the in-process runs
    assert reads == [1]  # of pytester, say) orders from what was read, without reading again
    assert [item.name for item in items] == ["test_fast", "test_slow"]
