"""Hygiene: the pure judges, tally and rendering, and real runs of each rule, serial and -n 2."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.hygiene.findings import RULES, Finding, Tally, merge
from pytest_tempo.hygiene.render import describe, render_markdown, render_terminal
from pytest_tempo.hygiene.rules import (
    bare_skip_message,
    explicit_id,
    mark_problems,
    natural_id,
    registered_markers,
    unreadable_args,
)
from pytest_tempo.hygiene.scan import markers_strict, raise_site, xfail_strict_default

from .conftest import assert_usage_error, xdist_params

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

PYTEST_9 = int(pytest.__version__.split(".")[0]) >= 9
needs_pytest_9 = pytest.mark.skipif(not PYTEST_9, reason="the ini key strict is new in pytest 9")

# --- judging one mark -----------------------------------------------------------------------


def problems(
    name: str,
    args: tuple[object, ...] = (),
    kwargs: dict[str, object] | None = None,
    *,
    registered: frozenset[str] | None = None,
    xfail_strict: bool = False,
) -> list[tuple[str, str]]:
    found = mark_problems(
        name, args, kwargs or {}, registered=registered, xfail_strict=xfail_strict
    )
    return [(rule, what) for rule, what in found]


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "expected"),
    [
        pytest.param("skip", (), {}, "@pytest.mark.skip", id="skip-bare"),
        pytest.param("skip", ("no server",), {}, None, id="skip-positional-reason"),
        pytest.param("skip", (), {"reason": "no server"}, None, id="skip-reason"),
        pytest.param("skip", (), {"reason": "  "}, "@pytest.mark.skip", id="skip-blank-reason"),
        pytest.param("skipif", (), {}, "@pytest.mark.skipif", id="skipif-no-condition"),
        pytest.param("skipif", (True,), {}, None, id="skipif-bool-no-reason-pytest-errors"),
        pytest.param(
            "skipif",
            ("sys.platform == 'win32'",),
            {},
            "@pytest.mark.skipif(\"sys.platform == 'win32'\")",
            id="skipif-string-no-reason",
        ),
        pytest.param(
            "skipif",
            (),
            {"condition": "os.name == 'nt'"},
            "@pytest.mark.skipif(\"os.name == 'nt'\")",
            id="skipif-condition-kwarg",
        ),
        pytest.param(
            "skipif",
            (True,),
            {"reason": ""},
            "@pytest.mark.skipif(True, reason='')",
            id="skipif-true-blank-reason",
        ),
        pytest.param("skipif", (False,), {"reason": ""}, None, id="skipif-false-blank-reason"),
        pytest.param("skipif", (True,), {"reason": "windows"}, None, id="skipif-reason"),
        pytest.param("xfail", (), {"strict": True}, "@pytest.mark.xfail", id="xfail-bare"),
        pytest.param("xfail", (), {"reason": "bug 7", "strict": True}, None, id="xfail-reason"),
        pytest.param(
            "xfail",
            ("sys.version_info < (3, 99)",),
            {"strict": True},
            "@pytest.mark.xfail('sys.version_info < (3, 99)')",
            id="xfail-string-no-reason",
        ),
    ],
)
def test_reasons(
    name: str, args: tuple[object, ...], kwargs: dict[str, object], expected: str | None
) -> None:
    found = [what for rule, what in problems(name, args, kwargs) if rule == "reason"]
    assert found == ([expected] if expected else [])


def test_long_string_conditions_are_shortened() -> None:
    condition = "sys.platform.startswith('linux') and os.environ.get('CI') == 'true'"
    ((_, what),) = problems("skipif", (condition,))
    assert what == "@pytest.mark.skipif(\"sys.platform.startswith('linux') and ...\")"


@pytest.mark.parametrize(
    ("kwargs", "ini", "expected"),
    [
        ({"reason": "r"}, False, "@pytest.mark.xfail"),
        ({"reason": "r"}, True, None),
        ({"reason": "r", "strict": True}, False, None),
        ({"reason": "r", "strict": False}, True, "@pytest.mark.xfail(strict=False)"),
        ({"reason": "r", "run": False}, False, None),
    ],
    ids=["ini-false", "ini-true", "strict", "explicitly-lax", "not-run"],
)
def test_strict(kwargs: dict[str, object], ini: bool, expected: str | None) -> None:
    found = [w for rule, w in problems("xfail", (), kwargs, xfail_strict=ini) if rule == "strict"]
    assert found == ([expected] if expected else [])


def test_markers_checked_only_when_pytest_does_not() -> None:
    known = frozenset({"slow", "skip"})
    assert problems("slowish", registered=known) == [("marker", "@pytest.mark.slowish")]
    assert problems("slow", registered=known) == []
    assert problems("slowish", registered=None) == []


def test_a_mark_can_break_several_rules() -> None:
    assert problems("xfail", registered=frozenset()) == [
        ("reason", "@pytest.mark.xfail"),
        ("strict", "@pytest.mark.xfail"),
        ("marker", "@pytest.mark.xfail"),
    ]


def test_registered_markers_are_split_as_pytest_splits_them() -> None:
    lines = ["skipif(condition, ..., *, reason=...): skip ...", "slow: long", "bare", " db : x"]
    assert registered_markers(lines) == frozenset({"skipif", "slow", "bare", "db"})


# --- ids ------------------------------------------------------------------------------------


class Client:
    pass


@pytest.mark.parametrize(
    ("call_id", "params", "expected"),
    [
        ("client0", {"client": Client()}, {"client": 0}),
        ("1-a7", {"n": 1, "a": Client()}, {"a": 7}),
        ("a0-b1", {"a": Client(), "b": [1]}, {"a": 0, "b": 1}),
        ("a0", {"a": "a0"}, {}),  # the value itself
        ("a0", {"a": 5}, {"a": 0}),  # an explicit "a0": told apart by explicit_id
        ("local", {"client": Client()}, {}),
        ("", {}, {}),
        ("x12y", {"x": Client()}, {}),
    ],
    ids=[
        "object",
        "second-part",
        "two-args",
        "string-value",
        "lookalike",
        "named",
        "empty",
        "not-a-part",
    ],
)
def test_unreadable_args(call_id: str, params: dict[str, object], expected: dict[str, int]) -> None:
    assert unreadable_args(call_id, params) == expected


def test_natural_ids_follow_pytest() -> None:
    import enum

    class Color(enum.Enum):
        RED = 1

    assert natural_id("x") == "x"
    assert natural_id(b"x") == "x"
    assert natural_id(None) == "None"
    assert natural_id(2.5) == "2.5"
    assert natural_id(re.compile("a+")) == "a+"
    assert natural_id(Color.RED) == "Color.RED"
    assert natural_id(Client) == "Client"
    assert natural_id(Client()) is None
    assert natural_id([1]) is None


def _id_maker(argnames: Sequence[str], sets: Sequence[Sequence[object]]) -> list[str]:
    """The ids pytest itself makes for one parametrize call (its ``IdMaker``)."""
    from _pytest.python import IdMaker

    fields: dict[str, Any] = {
        "argnames": argnames,
        "parametersets": [pytest.param(*values) for values in sets],
        "idfn": None,
        "ids": None,
        "config": None,
        "nodeid": None,
    }
    if "func_name" in IdMaker.__slots__:  # pytest 8
        fields["func_name"] = None
    return [str(i) for i in IdMaker(**fields).make_unique_parameterset_ids()]


#: Values pytest renders (the strings hold a space, so never look like ``name0``) and
#: values it cannot render.
readable = st.one_of(
    st.integers(-5, 5), st.booleans(), st.none(), st.text("xyz ", min_size=1).map(lambda s: s + " ")
)
unrenderable: st.SearchStrategy[object] = st.one_of(
    st.builds(Client), st.lists(st.integers(), max_size=2), st.builds(dict)
)


@given(
    names=st.lists(
        st.from_regex(r"[a-w][a-w_]{0,4}", fullmatch=True), min_size=1, max_size=3, unique=True
    ),
    data=st.data(),
)
def test_unreadable_args_finds_what_pytest_could_not_render(
    names: list[str], data: st.DataObject
) -> None:
    rows = data.draw(
        st.lists(
            st.lists(st.one_of(readable, unrenderable), min_size=len(names), max_size=len(names)),
            min_size=1,
            max_size=4,
        )
    )
    for index, (call_id, values) in enumerate(zip(_id_maker(names, rows), rows, strict=True)):
        params = dict(zip(names, values, strict=True))
        expected = {name: index for name, value in params.items() if natural_id(value) is None}
        assert unreadable_args(call_id, params) == expected


@given(st.text(max_size=30))
def test_unreadable_args_never_fail_on_any_id(call_id: str) -> None:
    found = unreadable_args(call_id, {"a": Client(), "b": 1})
    assert set(found) <= {"a"}
    assert all(f"a{i}" in call_id for i in found.values())


def test_explicit_ids() -> None:
    objects = [Client(), Client()]
    marks: list[tuple[Sequence[object], Mapping[str, object]]] = [
        (("n", [1, 2]), {}),
        (("client,other", objects), {"ids": [None, "second"]}),
        (("x",), {"argvalues": [pytest.param(Client(), id="mine")]}),
        (("y", [Client()], False, ["ymine"]), {}),
    ]
    assert not explicit_id("client", 0, marks)
    assert explicit_id("client", 1, marks)
    assert explicit_id("other", 1, marks)
    assert explicit_id("x", 0, marks)
    assert explicit_id("y", 0, marks)
    assert not explicit_id("unknown", 0, marks)
    assert not explicit_id("n", 5, marks)


# --- reports and tracebacks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "bare"),
    [
        ("Skipped", True),
        ("Skipped: ", True),
        ("Skipped: no network", False),
        ("could not import 'x'", False),
    ],
)
def test_bare_skip_message(message: str, bare: bool) -> None:
    assert bare_skip_message(message) is bare


@given(st.text(max_size=20))
def test_bare_skip_message_is_a_blank_reason(reason: str) -> None:
    assert bare_skip_message(f"Skipped: {reason}") is (not reason.strip())


class Raised(Exception):
    pass


def _hidden_raise() -> None:
    __tracebackhide__ = True
    raise Raised


def test_raise_site_is_the_caller_of_a_hidden_frame() -> None:
    with pytest.raises(Raised) as excinfo:
        _hidden_raise()  # the site
    site = raise_site(excinfo)
    assert site is not None
    path, line, module = site
    assert path == __file__
    assert module == __name__
    source = Path(path).read_text(encoding="utf-8").splitlines()
    assert source[line - 1].strip() == "_hidden_raise()  # the site"
    assert raise_site(None) is None


def _hidden_for_key_errors(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    return excinfo.errisinstance(KeyError)


def _raise_shown_by_callable() -> None:
    # pytest asks a callable __tracebackhide__ whether to hide the frame for this exception:
    # it hides it for a KeyError only, so this frame raising Raised is the site.
    __tracebackhide__ = _hidden_for_key_errors
    raise Raised  # the site the callable leaves shown


def _raise_everything_hidden() -> None:
    __tracebackhide__ = True
    raise Raised


def test_raise_site_asks_a_callable_tracebackhide_as_pytest_does() -> None:
    with pytest.raises(Raised) as excinfo:
        _raise_shown_by_callable()
    site = raise_site(excinfo)
    assert site is not None
    source = Path(site[0]).read_text(encoding="utf-8").splitlines()
    assert source[site[1] - 1].strip() == "raise Raised  # the site the callable leaves shown"


def test_raise_site_of_a_traceback_hidden_throughout_is_none() -> None:
    try:
        _raise_everything_hidden()
    except Raised as error:
        # A traceback of the hidden frame alone: no frame is left to name.
        hidden_only = error.__traceback__.tb_next if error.__traceback__ else None
        assert hidden_only is not None
        excinfo = pytest.ExceptionInfo.from_exc_info((Raised, error, hidden_only))
    assert raise_site(excinfo) is None


# --- tally, merge, plain data, rendering ----------------------------------------------------


def test_tally_counts_each_test_once_and_keeps_two_examples() -> None:
    tally = Tally()
    for test in ("t::a", "t::a", "t::b", "t::c"):
        tally.add("marker", "t", "@pytest.mark.x", test, "t.py", 3)
    tally.add("reason", "t.py:9", "pytest.skip()", "t::d", "t.py", 9)
    assert tally.findings() == [
        Finding("marker", "t", "@pytest.mark.x", "t.py", 3, 3, ("t::a", "t::b")),
        Finding("reason", "t.py:9", "pytest.skip()", "t.py", 9, 1, ("t::d",)),
    ]
    assert ("marker", "t", "@pytest.mark.x") in tally
    assert len(tally) == 2


def test_merge_lists_each_finding_once_in_rule_and_file_order() -> None:
    a = Finding("marker", "b.py", "@pytest.mark.x", "b.py", 1, 4)
    b = Finding("reason", "b.py::t", "@pytest.mark.skip", "b.py", 8, 1)
    c = Finding("reason", "a.py:3", "pytest.skip()", "a.py", 3, 2)
    worker_0 = [a, b]
    worker_1 = [a, b, Finding("marker", "b.py", "@pytest.mark.x", "b.py", 1, 2)]
    assert merge(worker_0, worker_1, [c]) == [c, b, a]


finding_strategy = st.builds(
    Finding,
    rule=st.sampled_from(list(RULES)),
    location=st.text(max_size=10),
    what=st.text(max_size=10),
    path=st.text(max_size=10),
    line=st.integers(0, 10_000),
    tests=st.integers(0, 100),
    examples=st.lists(st.text(max_size=5), max_size=2).map(tuple),
)


@given(finding_strategy)
def test_findings_survive_plain_data(finding: Finding) -> None:
    assert Finding.from_plain(finding.to_plain()) == finding


@pytest.mark.parametrize(
    "value",
    [
        None,
        "x",
        [],
        ["bogus", "l", "w", "", 0, 0, []],
        ["ids", 1, "w", "", 0, 0, []],
        ["ids", "l", "w", "", "0", 0, []],
        ["ids", "l", "w", "", 0, 0, "ab"],
    ],
    ids=["none", "text", "empty", "unknown-rule", "location", "line", "examples"],
)
def test_foreign_plain_data_is_ignored(value: object) -> None:
    assert Finding.from_plain(value) is None


FINDINGS = [
    Finding("reason", "t.py:4", "pytest.skip()", "t.py", 4, 1, ("t.py::test_a",)),
    Finding("reason", "t.py::TestX", "@pytest.mark.skip", "t.py", 9, 3, ("t.py::TestX::test_b",)),
    Finding("strict", "t.py::test_c", "@pytest.mark.xfail", "t.py", 20, 1, ("t.py::test_c",)),
    Finding(
        "ids",
        "t.py::test_d",
        "ids of argument client",
        "t.py",
        30,
        2,
        ("test_d[client0]", "test_d[client1]"),
    ),
]


def test_render_terminal() -> None:
    assert render_terminal(FINDINGS) == [
        "skips and xfails without a reason:",
        "  t.py:4: pytest.skip() (in t.py::test_a)",
        "  t.py::TestX: @pytest.mark.skip (3 tests)",
        "xfails that are not strict:",
        "  t.py::test_c: @pytest.mark.xfail",
        "parametrized tests with unreadable ids:",
        "  t.py::test_d: ids of argument client (2 tests, such as test_d[client0])",
        "4 hygiene findings: 2 without a reason, 1 not strict, 1 unreadable ids",
    ]


def test_long_example_ids_are_shortened() -> None:
    name = "test_bad[args0-" + "x" * 80 + "]"
    finding = Finding("ids", "t.py::test_bad", "ids of argument args", tests=1, examples=(name,))
    assert describe(finding) == (
        f"t.py::test_bad: ids of argument args (1 test, such as {name[:56]}...])"
    )


def test_render_markdown() -> None:
    assert render_markdown(FINDINGS[2:]) == textwrap.dedent(
        """\
        ### Hygiene

        #### Xfails that are not strict

        | where | what | tests |
        |---|---|---|
        | `t.py::test_c` | `@pytest.mark.xfail` | 1 |

        #### Parametrized tests with unreadable ids

        | where | what | tests |
        |---|---|---|
        | `t.py::test_d` | ids of argument client, such as `test_d[client0]` | 2 |

        2 hygiene findings: 1 not strict, 1 unreadable ids.

        """
    )


# --- what pytest enforces -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "strict"),
    [
        ([], False),
        (["--strict-markers"], True),
        (["--strict"], True),
        pytest.param(["-o", "strict_markers=true"], True, marks=needs_pytest_9),
        pytest.param(["-o", "strict=true"], True, marks=needs_pytest_9),
        pytest.param(
            ["-o", "strict=true", "-o", "strict_markers=false"], False, marks=needs_pytest_9
        ),
    ],
    ids=["default", "flag", "old-flag", "ini", "strict", "strict-but-not-markers"],
)
def test_markers_strict(pytester: pytest.Pytester, args: list[str], strict: bool) -> None:
    config = pytester.parseconfigure(*args)
    assert markers_strict(config) is strict


@pytest.mark.parametrize(
    ("args", "strict"),
    [
        ([], False),
        (["-o", "xfail_strict=true"], True),
        pytest.param(["-o", "strict_xfail=true"], True, marks=needs_pytest_9),
        pytest.param(["-o", "strict=true"], True, marks=needs_pytest_9),
        pytest.param(
            ["-o", "strict=true", "-o", "xfail_strict=false"], False, marks=needs_pytest_9
        ),
    ],
    ids=["default", "xfail_strict", "strict_xfail", "strict", "strict-but-not-xfail"],
)
def test_xfail_strict_default(pytester: pytest.Pytester, args: list[str], strict: bool) -> None:
    config = pytester.parseconfigure(*args)
    assert xfail_strict_default(config) is strict


# --- real runs ------------------------------------------------------------------------------


def section(result: pytest.RunResult) -> list[str]:
    """The lines of the one "hygiene" section ([] when there is none)."""
    lines = result.outlines
    starts = [i for i, line in enumerate(lines) if re.fullmatch(r"=+ hygiene =+", line)]
    assert len(starts) <= 1, "the hygiene section is written once"
    if not starts:
        return []
    start = starts[0]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("===")), len(lines))
    return lines[start + 1 : end]


REASONS = """
    import pytest

    @pytest.fixture
    def unavailable():
        pytest.skip()

    @pytest.mark.skip
    def test_skip_mark(): pass

    @pytest.mark.skip(reason="no server here")
    def test_skip_with_reason(): pass

    @pytest.mark.skipif("sys.platform != 'nowhere'")
    def test_string_condition(): pass

    @pytest.mark.skipif(False, reason="")
    def test_false_condition(): pass

    @pytest.mark.xfail(strict=True)
    def test_xfail_mark(): assert 0

    def test_bare_skip():
        pytest.skip()

    def test_bare_xfail():
        pytest.xfail()

    def test_skip_with_message():
        pytest.skip("not today")

    @pytest.mark.parametrize("n", [1, 2])
    def test_fixture_skip(unavailable, n): pass
"""


#: The run-time findings come from the timing's wrappers, or hygiene's own without it.
TIMING_ON_OFF = pytest.mark.parametrize(
    "timing", [pytest.param([], id="timing"), pytest.param(["-p", "no:tempo-timing"], id="untimed")]
)


@TIMING_ON_OFF
@xdist_params
def test_reasons_rule(pytester: pytest.Pytester, xdist_args: list[str], timing: list[str]) -> None:
    pytester.makepyfile(
        test_reasons=REASONS,
        test_module_skip="import pytest\npytest.skip(allow_module_level=True)\n",
        test_importorskip="import pytest\npytest.importorskip('no_such_module_at_all')\n",
    )
    result = pytester.runpytest(*xdist_args, *timing)
    result.assert_outcomes(passed=1, skipped=9, xfailed=2)
    assert result.ret == pytest.ExitCode.OK
    assert section(result) == [
        "skips and xfails without a reason:",
        "  test_module_skip.py:2: pytest.skip() at module level (in test_module_skip.py)",
        "  test_reasons.py:5: pytest.skip() (2 tests)",
        "  test_reasons.py::test_skip_mark: @pytest.mark.skip",
        "  test_reasons.py::test_string_condition: "
        "@pytest.mark.skipif(\"sys.platform != 'nowhere'\")",
        "  test_reasons.py::test_xfail_mark: @pytest.mark.xfail",
        "  test_reasons.py:23: pytest.skip() (in test_reasons.py::test_bare_skip)",
        "  test_reasons.py:26: pytest.xfail() (in test_reasons.py::test_bare_xfail)",
        "7 hygiene findings: 7 without a reason",
    ]


@TIMING_ON_OFF
@xdist_params
def test_a_bare_skip_through_both_wrappers_is_counted_once(
    pytester: pytest.Pytester, xdist_args: list[str], timing: list[str]
) -> None:
    """A fixture the test asks for in its body raises through the fixture's wrapper and the
    call's: one finding, at the fixture's line."""
    pytester.makepyfile(
        test_asked="""
        import pytest

        @pytest.fixture
        def gone():
            pytest.skip()

        def test_asks(request):
            request.getfixturevalue("gone")

        def test_fails():
            assert 0
        """
    )
    result = pytester.runpytest(*xdist_args, *timing)
    result.assert_outcomes(skipped=1, failed=1)
    assert section(result) == [
        "skips and xfails without a reason:",
        "  test_asked.py:5: pytest.skip() (in test_asked.py::test_asks)",
        "1 hygiene finding: 1 without a reason",
    ]


@pytest.mark.parametrize("timing", [[], ["-p", "no:tempo-timing"]], ids=["timing", "untimed"])
def test_hygiene_has_no_hook_per_test(pytester: pytest.Pytester, timing: list[str]) -> None:
    """Nothing of hygiene runs for a test that raises nothing: no report hook, and its call
    and fixture wrappers only where the timing's are off."""
    config = pytester.parseconfigure(*timing)
    hook = config.pluginmanager.hook
    per_test = {
        name: {config.pluginmanager.get_name(impl.plugin) for impl in caller.get_hookimpls()}
        for name, caller in (
            ("makereport", hook.pytest_runtest_makereport),
            ("logreport", hook.pytest_runtest_logreport),
            ("call", hook.pytest_runtest_call),
            ("fixture", hook.pytest_fixture_setup),
        )
    }
    hygiene = {name: {p for p in plugins if p and p.startswith("tempo-hygiene")}
               for name, plugins in per_test.items()}  # fmt: skip
    wrappers = {"tempo-hygiene-calls"} if timing else set()
    assert hygiene == {"makereport": set(), "logreport": set(), "call": wrappers,
                       "fixture": wrappers}  # fmt: skip


STRICT = """
    import pytest

    @pytest.mark.xfail(reason="bug 12")
    def test_default(): assert 0

    @pytest.mark.xfail(reason="bug 13", strict=False)
    def test_explicitly_lax(): assert 0

    @pytest.mark.xfail(reason="bug 14", strict=True)
    def test_strict(): assert 0

    @pytest.mark.xfail(reason="hangs", run=False)
    def test_not_run(): assert 0

    @pytest.mark.xfail(reason="bug 15")
    class TestFlaky:
        def test_a(self): assert 0
        def test_b(self): assert 0
"""


@xdist_params
def test_strict_rule(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_strict=STRICT)
    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(xfailed=6)
    assert section(result) == [
        "xfails that are not strict:",
        "  test_strict.py::test_default: @pytest.mark.xfail",
        "  test_strict.py::test_explicitly_lax: @pytest.mark.xfail(strict=False)",
        "  test_strict.py::TestFlaky: @pytest.mark.xfail (2 tests)",
        "3 hygiene findings: 3 not strict",
    ]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["-o", "xfail_strict=true"], id="xfail_strict"),
        pytest.param(["-o", "strict=true"], marks=needs_pytest_9, id="strict"),
    ],
)
def test_strict_rule_follows_the_ini(pytester: pytest.Pytester, args: list[str]) -> None:
    pytester.makepyfile(test_strict=STRICT)
    result = pytester.runpytest(*args)
    result.assert_outcomes(xfailed=6)
    assert section(result) == [
        "xfails that are not strict:",
        "  test_strict.py::test_explicitly_lax: @pytest.mark.xfail(strict=False)",
        "1 hygiene finding: 1 not strict",
    ]


MARKERS = """
    import pytest

    pytestmark = pytest.mark.nightly

    @pytest.mark.flaky_network
    class TestApi:
        def test_a(self): pass
        def test_b(self): pass

    @pytest.mark.wip
    @pytest.mark.smoke
    def test_c(): pass

    @pytest.mark.registered_here
    def test_d(): pass
"""


@xdist_params
def test_markers_rule(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makeconftest(
        """
        def pytest_configure(config):
            config.addinivalue_line("markers", "registered_here: registered by the project")
        """
    )
    pytester.makepyfile(test_markers=MARKERS)
    # In-process runs inherit this suite's filterwarnings=error; pytest warns, as it does.
    result = pytester.runpytest("-W", "default::pytest.PytestUnknownMarkWarning", *xdist_args)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*PytestUnknownMarkWarning: Unknown pytest.mark.nightly*"])
    assert section(result) == [
        "markers that are not registered:",
        "  test_markers.py: @pytest.mark.nightly (4 tests)",
        "  test_markers.py::TestApi: @pytest.mark.flaky_network (2 tests)",
        "  test_markers.py::test_c: @pytest.mark.wip",
        "3 hygiene findings: 3 not registered",
    ]


def test_markers_rule_is_silent_when_pytest_enforces_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_markers=MARKERS)
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*'nightly' not found in `markers` configuration option*"])
    assert section(result) == []


IDS = """
    import pytest

    class Client: pass

    @pytest.mark.parametrize("client", [Client(), Client(), Client()])
    def test_objects(client): pass

    @pytest.mark.parametrize("client", [Client(), Client()], ids=["local", "remote"])
    def test_named(client): pass

    @pytest.mark.parametrize("client", [pytest.param(Client(), id="local")])
    def test_param_id(client): pass

    @pytest.mark.parametrize("client", [Client()], ids=lambda c: type(c).__name__.lower())
    def test_idfn(client): pass

    @pytest.mark.parametrize(("n", "text"), [(1, "one"), (2, "two")])
    def test_plain_values(n, text): pass

    @pytest.mark.parametrize("client", [Client()], ids=["client0"])
    def test_lookalike_explicit_id(client): pass

    @pytest.mark.parametrize("n", [1, 2])
    @pytest.mark.parametrize("options", [{"retries": 1}, ["-x"]])
    def test_stacked(options, n): pass

    @pytest.fixture(params=[Client(), Client()])
    def backend(request):
        return request.param

    def test_backend(backend): pass
"""


@xdist_params
def test_ids_rule(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_ids=IDS)
    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(passed=16)
    assert section(result) == [
        "parametrized tests with unreadable ids:",
        "  test_ids.py::test_objects: ids of argument client "
        "(3 tests, such as test_objects[client0])",
        "  test_ids.py::test_stacked: ids of argument options "
        "(4 tests, such as test_stacked[options0-1])",
        "  test_ids.py::test_backend: ids of argument backend "
        "(2 tests, such as test_backend[backend0])",
        "3 hygiene findings: 3 unreadable ids",
    ]


CLEAN = """
    import pytest

    @pytest.mark.skip(reason="the sandbox has no network")
    def test_network(): pass

    @pytest.mark.xfail(reason="bug 12", strict=True)
    def test_known_bug(): assert 0

    @pytest.mark.parametrize("n", [1, 2], ids=["one", "two"])
    @pytest.mark.slow
    def test_numbers(n): pass
"""


@xdist_params
def test_a_clean_suite_has_no_section(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_clean=CLEAN)
    result = pytester.runpytest("-o", "tempo_hygiene=strict", *xdist_args)
    result.assert_outcomes(passed=2, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "hygiene" not in result.stdout.str()


@xdist_params
def test_strict_mode_fails_the_run(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_one="import pytest\n\n@pytest.mark.skip\ndef test_a(): pass\n")
    result = pytester.runpytest("-o", "tempo_hygiene=strict", *xdist_args)
    result.assert_outcomes(skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result) == [
        "skips and xfails without a reason:",
        "  test_one.py::test_a: @pytest.mark.skip",
        "1 hygiene finding: 1 without a reason",
        "FAIL tempo_hygiene=strict: 1 hygiene finding",
    ]
    result = pytester.runpytest()  # report: the same section, exit code 0
    assert result.ret == pytest.ExitCode.OK
    assert section(result)[-1] == "1 hygiene finding: 1 without a reason"


@pytest.mark.parametrize("mode", ["report", "strict"])
def test_collect_only_reports_collection_findings(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(test_reasons=REASONS)
    result = pytester.runpytest("--collect-only", "-q", "-o", f"tempo_hygiene={mode}")
    assert section(result)[1:4] == [
        "  test_reasons.py::test_skip_mark: @pytest.mark.skip",
        "  test_reasons.py::test_string_condition: "
        "@pytest.mark.skipif(\"sys.platform != 'nowhere'\")",
        "  test_reasons.py::test_xfail_mark: @pytest.mark.xfail",
    ]
    assert section(result)[4] == "3 hygiene findings: 3 without a reason"
    expected = pytest.ExitCode.TESTS_FAILED if mode == "strict" else pytest.ExitCode.OK
    assert result.ret == expected


@pytest.mark.parametrize(
    "args",
    [["-o", "tempo_hygiene=off"], ["-o", "tempo_hygiene=strict", "-p", "no:tempo-hygiene"]],
    ids=["off", "blocked"],
)
def test_turned_off(pytester: pytest.Pytester, args: list[str]) -> None:
    pytester.makepyfile(test_reasons=REASONS)
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1, skipped=7, xfailed=2)
    assert result.ret == pytest.ExitCode.OK
    assert "hygiene" not in result.stdout.str()
    # The rest of the plugin still runs.
    result.stdout.fnmatch_lines(["*= test types =*"])


@xdist_params
def test_findings_go_to_the_github_step_summary(
    pytester: pytest.Pytester,
    xdist_args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(test_strict=STRICT, test_ids=IDS)
    pytester.runpytest(*xdist_args).assert_outcomes(passed=16, xfailed=6)
    text = summary.read_text()
    assert text.count("### Hygiene") == 1
    start = text.index("### Hygiene")
    end = text.find("\n### ", start)
    hygiene = text[start : end + 1 if end >= 0 else len(text)]
    assert "| `test_strict.py::TestFlaky` | `@pytest.mark.xfail` | 2 |" in hygiene
    assert (
        "| `test_ids.py::test_objects` | ids of argument client, such as "
        "`test_objects[client0]` | 3 |"
    ) in hygiene
    assert hygiene.endswith("6 hygiene findings: 3 not strict, 3 unreadable ids.\n\n")


def test_clean_runs_write_nothing_to_the_step_summary(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(test_clean=CLEAN)
    pytester.runpytest().assert_outcomes(passed=2, skipped=1, xfailed=1)
    assert "Hygiene" not in (summary.read_text() if summary.exists() else "")


def test_an_unwritable_step_summary_is_reported(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path))  # a directory
    pytester.makepyfile(test_one="import pytest\n\n@pytest.mark.skip\ndef test_a(): pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(skipped=1)
    assert section(result)[-1].startswith("tempo: could not append to GITHUB_STEP_SUMMARY: ")


def test_bad_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    assert_usage_error(
        pytester,
        ["-o", "tempo_hygiene=loud"],
        "ERROR: tempo_hygiene (ini): 'loud' is not valid: expected one of off, report, strict",
    )


def test_plugin_registered_by_name(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfigure()
    assert config.pluginmanager.has_plugin("tempo-hygiene")
    config = pytester.parseconfigure("-o", "tempo_hygiene=off")
    assert not config.pluginmanager.has_plugin("tempo-hygiene")


def test_long_blocks_are_summed_up_per_file_and_capped() -> None:
    ids = [
        Finding("ids", f"tests/test_{m}.py::test_{i}", "ids of argument x", f"tests/test_{m}.py",
                i, 3, (f"tests/test_{m}.py::test_{i}[x0]",))
        for m in range(12) for i in range(2)
    ]  # fmt: skip
    reasons = [Finding("reason", f"t.py::test_{i}", "@pytest.mark.skip", "t.py", i, 1)
               for i in range(11)]  # fmt: skip
    lines = render_terminal(ids + reasons, rows=10)
    start = lines.index("parametrized tests with unreadable ids:")
    assert lines[start + 1] == (
        "  tests/test_0.py: 2 parametrized tests (6 ids, such as tests/test_0.py::test_0[x0])"
    )
    assert lines[start + 11] == "  (2 more; -v shows all)"
    assert "  (1 more; -v shows all)" in lines  # the eleventh skip without a reason
    everything = render_terminal(ids + reasons, rows=None)
    assert len(everything) == 1 + 11 + 1 + 24 + 1
