"""Measure pytest-tempo's cost: reordering 100,000 items, and the per-test overhead.

Run by hand from the repository root::

    python benchmarks/overhead.py                      # whole plugin vs -p no:tempo
    python benchmarks/overhead.py --against no:tempo-timing
    python benchmarks/overhead.py --all-features       # every feature configured and on
    python benchmarks/overhead.py --all-features --callgrind   # instruction counts
    python benchmarks/overhead.py --variant "advice-off=-o tempo_advice=off" --callgrind
    python benchmarks/overhead.py --callgrind --parallel --suites trivial-5000-all  # at once

The suite comparison runs a generated suite of trivial tests with the plugin on and with
the plugin (or one feature) off, alternating the two, several times, and prints the median
wall time of each and their ratio. Nothing here is a timed test: the numbers are reported in
the docs and release notes, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from floor_plugin import STAGES as FLOOR_STAGES

from pytest_tempo.durations_record import FLUSH_SECONDS
from pytest_tempo.ordering import OrderingPlugin

SMOKE = SimpleNamespace(name="smoke")
SLOW = SimpleNamespace(name="slow")


def fake_items(count: int, per_module: int = 50) -> list[SimpleNamespace]:
    """Items shaped like pytest's: node ids, own markers, a module and a session parent."""
    session = SimpleNamespace(parent=None, own_markers=[])
    items = []
    module = session
    for n in range(count):
        if n % per_module == 0:
            module = SimpleNamespace(parent=session, own_markers=[])
            path = f"tests/test_m{n // per_module}.py"
        marks = [SMOKE] if n % 97 == 0 else [SLOW] if n % 31 == 0 else []
        items.append(SimpleNamespace(nodeid=f"{path}::test_{n}", own_markers=marks, parent=module))
    return items


def bench_reorder(count: int, repeat: int) -> float:
    plugin = OrderingPlugin()
    times = []
    for _ in range(repeat):
        items = fake_items(count)
        start = time.perf_counter()
        plugin.pytest_collection_modifyitems(items)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_suite(root: Path, tests: int, per_file: int = 100) -> None:
    for f in range(tests // per_file):
        body = [f"def test_{f}_{t}():\n    assert True\n" for t in range(per_file)]
        (root / f"test_gen_{f}.py").write_text("\n".join(body))
    (root / "pytest.ini").write_text("[pytest]\n")


#: Every feature configured: ordering by durations, test types, hygiene, the timing report
#: with JSON and HTML, coverage floors (checked when --cov is given).
ALL_FEATURES_INI = """\
[pytest]
tempo_order = durations
slow_threshold = 0.5
tempo_hygiene = report
tempo_markers =
    billing: touches invoices
test_types =
    tests/unit/*: unit
    tests/integration/*: integration db
    tests/smoke/*: smoke
cov_floors =
    total: 0
"""
ALL_FEATURES_ARGS = ["--slow-report-json=timing.json", "--tempo-html=timing.html"]


def write_typed_suite(root: Path, tests: int, per_file: int = 100) -> None:
    """A suite in unit/integration/smoke folders, with markers and parametrized tests."""
    folders = ("unit", "unit", "unit", "integration", "smoke")
    app = root / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    for f in range(tests // per_file):
        folder = root / "tests" / folders[f % len(folders)]
        folder.mkdir(parents=True, exist_ok=True)
        body = ["import pytest", "from app.calc import add", ""]
        for t in range(0, per_file - 10, 2):
            mark = "@pytest.mark.billing\n" if t % 20 == 0 else ""
            body.append(f"{mark}def test_{f}_{t}():\n    assert add({t}, 1) == {t + 1}\n")
            body.append(f"def test_{f}_{t + 1}():\n    assert True\n")
        body.append(
            '@pytest.mark.parametrize("n", range(10))\n'
            f"def test_{f}_param(n):\n    assert add(n, 0) == n\n"
        )
        (folder / f"test_gen_{f}.py").write_text("\n".join(body))
    (root / "pytest.ini").write_text(ALL_FEATURES_INI + "pythonpath = .\n")


# As on a developer's machine: bytecode caches on, so pytest's rewritten modules (pytest
# rewrites the asserts of every plugin installed through an entry point) are compiled once.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def write_realistic_suite(root: Path, tests: int, per_file: int = 20, seed: int = 15) -> None:
    """Tests doing 1-10 ms of CPU work each (a fixed count of loop steps, seeded), some with
    a function fixture, some with a module fixture, one in five parametrized."""
    rng = random.Random(seed)
    for f in range(max(1, tests // per_file)):
        body = [
            "import pytest",
            "",
            "def work(steps):",
            "    total = 0",
            "    for i in range(steps):",
            "        total += i * i % 7",
            "    return total",
            "",
            "@pytest.fixture",
            "def rows():",
            "    return [dict(id=i, name=str(i)) for i in range(50)]",
            "",
            '@pytest.fixture(scope="module")',
            "def table():",
            "    return {i: i * 2 for i in range(500)}",
            "",
        ]
        for t in range(per_file):
            steps = rng.randint(STEPS_PER_MS, 10 * STEPS_PER_MS)
            if t % 5 == 0:
                body.append(
                    f'@pytest.mark.parametrize("n", [1, 2])\n'
                    f"def test_{f}_{t}(n, rows):\n"
                    f"    assert work({steps // 2}) >= 0 and len(rows) == 50\n"
                )
            elif t % 3 == 0:
                body.append(f"def test_{f}_{t}(table):\n    assert work({steps}) >= table[0]\n")
            else:
                body.append(f"def test_{f}_{t}():\n    assert work({steps}) >= 0\n")
        (root / f"test_real_{f}.py").write_text("\n".join(body))
    (root / "pytest.ini").write_text("[pytest]\n")


#: Loop steps of ``work`` per millisecond of CPU on the reference machine (about).
STEPS_PER_MS = 14_000


@dataclass(frozen=True)
class Variant:
    """One way of running pytest: the plugin off, on, or on from another checkout."""

    name: str
    args: tuple[str, ...]
    pythonpath: str | None = None
    #: where :mod:`stop_at` ends the process ("": it runs to its end)
    stop: str = ""

    def env(self) -> dict[str, str]:
        env = dict(ENV)
        if self.pythonpath is not None:
            env["PYTHONPATH"] = self.pythonpath
        if EXTRA_PATH:  # every variant alike, so none imports through one more folder
            paths = [*env.get("PYTHONPATH", "").split(os.pathsep), *EXTRA_PATH]
            env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        if self.stop:
            env["STOP_AT"] = self.stop
        return env

    def stopped(self, stop: str) -> Variant:
        """The variant ended by :mod:`stop_at` at ``stop``."""
        return Variant(f"{self.name}@{stop}", (*self.args, "-p", "stop_at"), self.pythonpath, stop)


#: Folders every variant finds modules in (this one, with ``--floor`` or ``--phases``).
EXTRA_PATH: list[str] = []
#: Where ``--phases`` ends the counted runs, in order.
PHASES = ("collection", "loop")


def floor_variants() -> list[Variant]:
    """:mod:`floor_plugin` at each stage, with pytest-tempo off."""
    return [
        Variant(
            f"floor-{stage}", ("-p", "no:tempo", "-p", "floor_plugin", "-o", f"floor_stage={stage}")
        )
        for stage in FLOOR_STAGES
    ]


def run_cpu(root: Path, base: list[str], variant: Variant) -> float:
    """CPU seconds (user + system) of one pytest process."""
    command = [sys.executable, "-m", "pytest", *base, *variant.args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = variant.env()
    done = subprocess.run(command, cwd=root, stdout=subprocess.DEVNULL, env=env, check=False)
    if done.returncode not in (0, 5):  # 5: no tests collected (the empty project)
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def count_instructions(root: Path, command: list[str], env: dict[str, str]) -> int:
    """Instructions of one process, counted by valgrind's callgrind."""
    with tempfile.NamedTemporaryFile(suffix=".callgrind") as out:
        grind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out.name}"]
        subprocess.run(
            [*grind, *command],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            check=False,
        )
        for line in Path(out.name).read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no totals")


#: The suites: name -> (writer, tests, every feature on).
SUITES = {
    "trivial-1000": (write_suite, 1_000, False),
    "trivial-5000": (write_suite, 5_000, False),
    "realistic": (write_realistic_suite, 100, False),
    "trivial-1000-all": (write_typed_suite, 1_000, True),
    "trivial-5000-all": (write_typed_suite, 5_000, True),
    "realistic-all": (write_realistic_suite, 100, True),
}


#: A conftest that imports every module of the plugin, so pytest writes their rewritten
#: bytecode: a module the warm-up runs never import (the forecast's, imported only when a run
#: is slow, as it is under valgrind) would otherwise be compiled in the counted run.
WARM_CONFTEST = """\
import importlib, pkgutil
import pytest_tempo
for found in pkgutil.walk_packages(pytest_tempo.__path__, "pytest_tempo."):
    importlib.import_module(found.name)
"""


def warm_modules(variant: Variant) -> None:
    """Write the bytecode of every module of the variant's plugin (as the plugin loads it)."""
    if variant.name == "off":
        return
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "conftest.py").write_text(WARM_CONFTEST)
        (Path(tmp) / "test_warm.py").write_text("def test_warm():\n    pass\n")
        run_cpu(Path(tmp), ["-q", "-p", "no:randomly"], variant)


def grind_variants(
    root: Path, base: list[str], variants: list[Variant], parallel: bool
) -> dict[str, int]:
    """Instructions of one run of each variant; with ``parallel``, all at once, each in its
    own copy of the warmed suite (its caches and store as the warm-up runs left them)."""

    def one(variant: Variant, folder: Path) -> tuple[str, int]:
        command = [sys.executable, "-m", "pytest", *base, *variant.args]
        return f"instr {variant.name}", count_instructions(folder, command, variant.env())

    if not parallel:
        return dict(one(v, root) for v in variants)
    folders = []
    for variant in variants:
        folder = root.parent / f"{root.name}-{variant.name}"
        shutil.copytree(root, folder, symlinks=True)
        folders.append(folder)
    try:
        with ThreadPoolExecutor(len(variants)) as pool:
            return dict(pool.map(one, variants, folders))
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def run_wall(root: Path, command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one process."""
    start = time.perf_counter()
    subprocess.run(
        command,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        check=False,
    )
    return time.perf_counter() - start


def slowdown(root: Path, base: list[str], variant: Variant, copies: int = 1) -> float:
    """How many times longer the suite takes under valgrind than natively: wall seconds of
    the plugin-on run under callgrind (``copies`` of it at once, as many as the counted
    runs that will share the machine, each in its own copy of the suite; the slowest),
    against the fastest of three native runs."""
    command = [sys.executable, "-m", "pytest", *base, *variant.args]
    native = min(run_wall(root, command, variant.env()) for _ in range(3))

    def grind(folder: Path) -> float:
        with tempfile.NamedTemporaryFile(suffix=".callgrind") as out:
            valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out.name}"]
            return run_wall(folder, [*valgrind, *command], variant.env())

    folders = [root.parent / f"{root.name}-calibrate-{i}" for i in range(copies)]
    for folder in folders:
        shutil.copytree(root, folder, symlinks=True)
    try:
        with ThreadPoolExecutor(copies) as pool:
            return max(pool.map(grind, folders)) / native
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


#: The conftest of a counted run under ``--native-clock``: the plugin's journal thread
#: writes as often as in a native run (once a second of native time), not once a second of
#: valgrind's slowed time, 50 to 100 times as often, each time some 50,000 instructions
#: that a native run does not spend. The "off" runs are left alone.
JOURNAL_CONFTEST = """\
def pytest_configure(config):
    if config.pluginmanager.hasplugin("tempo"):
        from pytest_tempo.durations_record import Recorder

        init = Recorder.__init__
        names = init.__code__.co_varnames[: init.__code__.co_argcount]
        first = len(names) - len(init.__defaults__)
        defaults = list(init.__defaults__)
        defaults[names.index("flush_seconds") - first] = {seconds!r}
        init.__defaults__ = tuple(defaults)
"""


def native_journal(root: Path, seconds: float | None) -> None:
    """Write (or, with None, remove) the conftest that spaces the journal's writes by
    ``seconds``."""
    conftest = root / "conftest.py"
    if seconds is None:
        conftest.unlink(missing_ok=True)
    else:
        conftest.write_text(JOURNAL_CONFTEST.format(seconds=seconds))


def with_threshold(variant: Variant, seconds: float) -> Variant:
    """The variant with ``-o slow_threshold=SECONDS`` (the plugin-off variant as it is)."""
    if variant.name == "off":
        return variant
    args = (*variant.args, "-o", f"slow_threshold={seconds:.3f}")
    return Variant(variant.name, args, variant.pythonpath, variant.stop)


def bench_matrix(
    suites: list[str],
    variants: list[Variant],
    runs: int,
    callgrind: bool,
    parallel: bool = False,
    native_clock: bool = False,
    phases: bool = False,
) -> list[dict[str, object]]:
    """Per suite: instructions of each variant (once), median CPU of interleaved runs.

    With ``native_clock``, the counted runs get the slow threshold times the suite's
    :func:`slowdown`: the plugin's judgements on wall-clock seconds (which tests are slow,
    whether the advice's forecast speaks) are then those of a native run, not of one
    valgrind made some 50 times slower; and the journal is written as often as in a native
    run (:data:`JOURNAL_CONFTEST`)."""
    rows: list[dict[str, object]] = []
    every = variants
    for name in suites:
        writer, tests, all_features = SUITES[name]
        variants = every
        base = ["-q", "-p", "no:randomly", "-W", "ignore::pytest.PytestConfigWarning"]
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            writer(root, tests)
            if all_features:
                if writer is not write_typed_suite:
                    (root / "pytest.ini").write_text(ALL_FEATURES_INI)
                # Flags only the plugin knows: on the runs with the plugin.
                variants = [
                    v
                    if v.name == "off"
                    else Variant(v.name, (*v.args, *ALL_FEATURES_ARGS), v.pythonpath)
                    for v in variants
                ]
            # Warm the bytecode caches and the durations store of every variant.
            for variant in variants:
                warm_modules(variant)
                run_cpu(root, base, variant)
            row: dict[str, object] = {"suite": name}
            if callgrind:
                counted = variants
                if native_clock:
                    per_variant = 1 + len(PHASES) if phases else 1
                    at_once = len(variants) * per_variant if parallel else 1
                    factor = slowdown(root, base, variants[-1], at_once)
                    threshold = (0.5 if all_features else 1.0) * factor  # the suites' own
                    print(f"  {name}: valgrind {factor:.1f}x slower, threshold {threshold:.1f}s")
                    counted = [with_threshold(v, threshold) for v in variants]
                    native_journal(root, FLUSH_SECONDS * factor)
                if phases:
                    counted = [*counted, *(v.stopped(p) for p in PHASES for v in counted)]
                row.update(grind_variants(root, base, counted, parallel))
                native_journal(root, None)
            cpu: dict[str, list[float]] = {v.name: [] for v in variants}
            for _ in range(runs):
                for variant in variants:
                    cpu[variant.name].append(run_cpu(root, base, variant))
            for variant in variants:
                if cpu[variant.name]:  # --runs 0: instructions only
                    row[f"cpu {variant.name}"] = statistics.median(cpu[variant.name])
        rows.append(row)
        print(format_row(row, variants), flush=True)
        if callgrind:
            print("  " + "  ".join(f"{k} {v}" for k, v in row.items() if k.startswith("instr")))
        if callgrind and phases:
            print(format_phases(row, variants), flush=True)
    return rows


def format_phases(row: dict[str, object], variants: list[Variant]) -> str:
    """Per variant, the instructions it adds to the off run in each part of the run: start-up
    and collection, the test loop, and the end (what follows the last test), in millions."""
    lines = [f"  {'added (M instr)':<18}{'start+collect':>14}{'test loop':>11}{'end':>9}{'all':>9}"]

    def parts(name: str) -> list[int]:
        marks = [int(row[f"instr {name}@{p}"]) for p in PHASES]  # type: ignore[call-overload]
        whole = int(row[f"instr {name}"])  # type: ignore[call-overload]
        return [marks[0], marks[1] - marks[0], whole - marks[1], whole]

    off = parts(variants[0].name)
    for variant in variants[1:]:
        added = [(a - b) / 1e6 for a, b in zip(parts(variant.name), off, strict=True)]
        lines.append(
            f"  {variant.name:<18}"
            + "".join(
                f"{value:>{width}.1f}" for value, width in zip(added, (14, 11, 9, 9), strict=True)
            )
        )
    return "\n".join(lines)


def format_row(row: dict[str, object], variants: list[Variant]) -> str:
    off = variants[0].name
    parts = [f"{row['suite']:<18}"]
    for kind in ("instr", "cpu"):
        if f"{kind} {off}" not in row:
            continue
        reference = float(row[f"{kind} {off}"])  # type: ignore[arg-type]
        for variant in variants[1:]:
            value = float(row[f"{kind} {variant.name}"])  # type: ignore[arg-type]
            parts.append(f"{kind} {variant.name}/{off} {value / reference:.3f}")
    return "  ".join(parts)


def import_cost(variants: list[Variant], runs: int, callgrind: bool) -> None:
    """``python -X importtime -m pytest --co -q`` on an empty project: the milliseconds of
    the modules only the plugin imports (median), and the instructions of the whole run."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pytest.ini").write_text("[pytest]\n")
        off = variants[0]
        command = [sys.executable, "-X", "importtime", "-m", "pytest", "--co", "-q"]
        for variant in variants:  # warm the bytecode caches
            run_cpu(root, ["--co", "-q"], variant)
        added: dict[str, list[float]] = {v.name: [] for v in variants[1:]}
        for _ in range(runs):
            seen: dict[str, dict[str, int]] = {}
            for variant in variants:
                done = subprocess.run(
                    [*command, *variant.args],
                    cwd=root,
                    capture_output=True,
                    text=True,
                    env=variant.env(),
                    check=False,
                )
                seen[variant.name] = imported(done.stderr)
            for variant in variants[1:]:
                extra = set(seen[variant.name]) - set(seen[off.name])
                added[variant.name].append(sum(seen[variant.name][m] for m in extra) / 1000)
        for name, values in added.items():
            print(f"import time added, {name}: median {statistics.median(values):.1f} ms")
        if callgrind:
            counts = {
                v.name: count_instructions(
                    root, [sys.executable, "-m", "pytest", "--co", "-q", *v.args], v.env()
                )
                for v in variants
            }
            for variant in variants[1:]:
                more = counts[variant.name] - counts[off.name]
                print(f"--co, empty project, {variant.name}: {more / 1e6:+.1f} M instructions")


def imported(importtime: str) -> dict[str, int]:
    """Module -> its own import microseconds, from ``-X importtime`` output."""
    modules = {}
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line[len("import time:") :].split("|")
        modules[name.strip()] = int(own)
    return modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5, help="interleaved CPU-time runs")
    parser.add_argument("--against", default="no:tempo", help="the -p value for the 'off' runs")
    parser.add_argument(
        "--suites",
        default=",".join(SUITES),
        help=f"comma-separated, of: {', '.join(SUITES)}",
    )
    parser.add_argument(
        "--before",
        metavar="CHECKOUT",
        help="also run the plugin from another checkout (its src/ first on PYTHONPATH)",
    )
    parser.add_argument(
        "--callgrind", action="store_true", help="count instructions once each, with valgrind"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="also run the plugin with these pytest arguments (repeatable), e.g. "
        '"advice-off=-o tempo_advice=off"; a NAME starting with "before-" runs the '
        "--before checkout",
    )
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="with --callgrind: count the variants at once, each in a copy of the warmed suite",
    )
    parser.add_argument(
        "--native-clock",
        action="store_true",
        help="with --callgrind: scale the slow threshold and the journal's interval by how "
        "much slower valgrind runs the suite, so that the plugin's wall-clock judgements and "
        "writes are a native run's",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run floor_plugin.py, the least work the default contract asks, at each of "
        "its stages, with pytest-tempo off",
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="with --callgrind: also count each variant up to the end of the collection and of "
        "the test loop, and print what it adds in each part of the run",
    )
    parser.add_argument("--no-import", action="store_true", help="skip the import measurement")
    parser.add_argument("--no-reorder", action="store_true", help="skip the reordering bench")
    args = parser.parse_args()
    variants = [Variant("off", ("-p", args.against))]
    if args.before:
        variants.append(Variant("before", (), str(Path(args.before).resolve() / "src")))
    for spec in args.variant:
        name, sep, extra = spec.partition("=")
        if not sep or not name:
            parser.error(f"--variant: {spec!r} is not NAME=ARGS")
        # "before-NAME=ARGS": the same arguments, with the plugin from the --before checkout.
        before = name.startswith("before-") and args.before
        path = str(Path(args.before).resolve() / "src") if before else None
        variants.append(Variant(name, tuple(shlex.split(extra)), path))
    if args.floor:
        variants.extend(floor_variants())
    if args.floor or args.phases:
        EXTRA_PATH.append(str(Path(__file__).resolve().parent))
    variants.append(Variant("on", ()))
    if not args.no_reorder:
        seconds = bench_reorder(args.items, repeat=5)
        print(f"reordering {args.items} items: median {seconds * 1000:.1f} ms")
    if not args.no_import:
        import_cost(variants, max(args.runs, 5), args.callgrind)
    suites = [s for s in args.suites.split(",") if s]
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        parser.error(f"--suites: unknown {', '.join(unknown)}; known: {', '.join(SUITES)}")
    if args.phases and not args.callgrind:
        parser.error("--phases counts instructions: add --callgrind")
    bench_matrix(
        suites, variants, args.runs, args.callgrind, args.parallel, args.native_clock, args.phases
    )


if __name__ == "__main__":
    main()
