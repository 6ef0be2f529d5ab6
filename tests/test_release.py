"""The distributions as users get them: built, checked by twine, installed from the wheel in
a fresh virtual environment, and run on the example project.

One build and one environment serve every test of the module, shared by pytest-xdist
workers. Without ``build`` or ``twine`` the tests skip, except under ``CI=true``, where the
test extra installs both and their absence is a failure.
"""

from __future__ import annotations

import configparser
import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_tempo import __version__

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from email.message import Message

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
DEMO = ROOT / "examples" / "demo"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BIN = "Scripts" if sys.platform == "win32" else "bin"

#: Variables of the surrounding run that must not reach the fresh environment: the source
#: tree on the import path, our own pytest and coverage settings, xdist worker identity,
#: databases of the outer suite and its step summary.
LEAKY_PREFIXES = ("PYTHON", "PYTEST_", "COV_CORE_", "COVERAGE_", "TEMPO_")
LEAKY_NAMES = {"VIRTUAL_ENV", "DATABASE_URL", "GITHUB_STEP_SUMMARY"}


def runnable(module: str) -> bool:
    """``python -m module`` works (a stray ``build/`` folder is no ``build`` package)."""
    try:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ModuleNotFoundError:
        return False


def require(module: str) -> None:
    """Skip without ``module``; under CI, where the test extra installs it, fail."""
    if not runnable(module):
        message = f"{module} is not installed (pip install -e '.[test]')"
        if IN_CI:
            pytest.fail(f"{message}: CI must run the release tests", pytrace=False)
        pytest.skip(message)


def run(
    args: list[str | Path],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run a command; its combined output, or a test failure that shows it."""
    if env is None:  # pytest-cov 6 would measure every Python child of a --cov run
        env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")}
    done = subprocess.run(
        [str(arg) for arg in args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}", pytrace=False
        )
    return done.stdout


def clean_env(venv: Path) -> dict[str, str]:
    """The environment of a user who activated ``venv``: nothing of this run leaks in."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(LEAKY_PREFIXES) and name not in LEAKY_NAMES
    }
    env["PATH"] = os.pathsep.join([str(venv / BIN), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(venv)
    return env


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (POSIX; elsewhere each worker works alone)."""
    with path.open("w") as handle:
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def made_once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """A directory ``make`` fills once per run, shared by the pytest-xdist workers."""
    base = factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        base = base.parent  # the run's directory, above each worker's own
    target = base / name
    with locked(base / f"{name}.lock"):
        if not (target / ".done").exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            make(target)
            (target / ".done").touch()
    return target


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    require("build")

    def build(outdir: Path) -> None:
        run([sys.executable, "-m", "build", "--outdir", outdir, ROOT], timeout=600)

    outdir = made_once(tmp_path_factory, "dist", build)
    (sdist,) = outdir.glob("*.tar.gz")
    (wheel,) = outdir.glob("*.whl")
    return Dists(sdist, wheel)


@pytest.fixture(scope="module")
def wheel_names(dists: Dists) -> list[str]:
    with zipfile.ZipFile(dists.wheel) as wheel:
        return wheel.namelist()


@pytest.fixture(scope="module")
def metadata(dists: Dists) -> Message:
    with zipfile.ZipFile(dists.wheel) as wheel:
        text = wheel.read(f"pytest_tempo-{__version__}.dist-info/METADATA").decode()
    return HeaderParser().parsestr(text)


@pytest.fixture(scope="module")
def venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment (no system site packages) with the wheel and pytest-cov
    installed from the package index, as a user installs them."""
    if importlib.util.find_spec("ensurepip") is None:  # pragma: no cover - distro Pythons
        pytest.skip("this Python cannot create virtual environments with pip (no ensurepip)")

    def create(target: Path) -> None:
        run([sys.executable, "-m", "venv", target], timeout=300)
        python = target / BIN / "python"
        install: list[str | Path] = [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            dists.wheel,
            "pytest-cov",
        ]
        run(install, timeout=900, env=clean_env(target), cwd=target)

    return made_once(tmp_path_factory, "venv", create)


@dataclass(frozen=True)
class DemoRun:
    output: pytest.LineMatcher
    lines: list[str]
    imported_from: Path


@pytest.fixture(scope="module")
def demo_run(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The example project copied out of the source tree and run with ``pytest --cov`` by
    the fresh environment's Python."""
    demo = tmp_path_factory.mktemp("demo")
    ignore = shutil.ignore_patterns(".pytest_cache", "__pycache__", ".coverage*")
    shutil.copytree(DEMO, demo, dirs_exist_ok=True, ignore=ignore)
    python = venv / BIN / "python"
    env = clean_env(venv)
    where = run(
        [python, "-c", "import pytest_tempo.plugin; print(pytest_tempo.__file__)"],
        timeout=60,
        env=env,
        cwd=demo,
    )
    output = run([python, "-m", "pytest", "--cov"], timeout=300, env=env, cwd=demo)
    lines = output.splitlines()
    return DemoRun(pytest.LineMatcher(lines), lines, Path(where.strip()).resolve())


def test_distributions_pass_twine_check(dists: Dists) -> None:
    require("twine")
    output = run(
        [sys.executable, "-m", "twine", "check", "--strict", dists.sdist, dists.wheel],
        timeout=120,
    )
    assert output.count("PASSED") == 2, output


def test_distributions_carry_the_package_version(dists: Dists) -> None:
    assert dists.sdist.name == f"pytest_tempo-{__version__}.tar.gz"
    assert dists.wheel.name == f"pytest_tempo-{__version__}-py3-none-any.whl"


def test_wheel_holds_the_package_and_nothing_else(wheel_names: list[str]) -> None:
    sources = {
        path.relative_to(ROOT / "src").as_posix()
        for path in (ROOT / "src" / "pytest_tempo").rglob("*.py")
    }
    assert sources <= set(wheel_names)
    assert "pytest_tempo/py.typed" in wheel_names
    assert "pytest_tempo/schemas/slow-report.json" in wheel_names
    top = {name.split("/")[0] for name in wheel_names}
    assert top == {"pytest_tempo", f"pytest_tempo-{__version__}.dist-info"}
    assert not [name for name in wheel_names if "__pycache__" in name or name.endswith(".pyc")]


def test_wheel_registers_the_plugin(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as wheel:
        text = wheel.read(f"pytest_tempo-{__version__}.dist-info/entry_points.txt").decode()
    entry_points = configparser.ConfigParser()
    entry_points.read_string(text)
    assert dict(entry_points["pytest11"]) == {"tempo": "pytest_tempo.plugin"}
    assert dict(entry_points["console_scripts"]) == {"pytest-tempo": "pytest_tempo.cli:main"}


def test_wheel_metadata(metadata: Message) -> None:
    assert metadata["Name"] == "pytest-tempo"
    assert metadata["Version"] == __version__
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Description-Content-Type"] == "text/markdown"
    classifiers = metadata.get_all("Classifier") or []
    assert {
        "Framework :: Pytest",
        "Typing :: Typed",
        "Programming Language :: Python :: 3 :: Only",
    } <= set(classifiers)
    versions = [c.rsplit(" ", 1)[1] for c in classifiers if re.fullmatch(r".* :: 3\.\d+", c)]
    assert versions == ["3.10", "3.11", "3.12", "3.13"]  # from Requires-Python up
    urls = {url.split(",")[0] for url in metadata.get_all("Project-URL") or []}
    assert urls == {"Homepage", "Documentation", "Source", "Changelog", "Issues"}
    requires = metadata.get_all("Requires-Dist") or []
    assert "pytest>=8.0" in requires


def test_readme_links_resolve_on_the_package_index(metadata: Message) -> None:
    """The index shows the README without the repository around it: relative links and
    images would point nowhere, so every target is absolute or an anchor."""
    readme = str(metadata.get_payload())
    assert readme.startswith("# pytest-tempo")
    targets = re.findall(r"\]\(\s*<?([^)\s>]+)", readme)
    targets += re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", readme)
    relative = [t for t in targets if not t.startswith(("https://", "http://", "#"))]
    assert relative == []


def test_sdist_holds_what_the_suite_and_docs_need(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    top = {name.split("/")[0] for name in names}
    required = {"src", "tests", "docs", "examples", "benchmarks", "conftest.py", "README.md"}
    required |= {"CHANGELOG.md", "LICENSE", "pyproject.toml", "mkdocs.yml", "PKG-INFO"}
    assert required <= top
    assert not top & {".venv", ".ci-venv", ".ci-matrix", "site", "dist", ".pytest_cache"}
    assert "src/pytest_tempo/schemas/slow-report.json" in names
    assert "examples/demo/pyproject.toml" in names
    leftovers = re.compile(r"(^|/)(__pycache__|\.pytest_cache|\.coverage|\.hypothesis)|\.pyc$")
    assert not [name for name in names if leftovers.search(name)]


def test_wheel_runs_the_demo_in_a_fresh_environment(venv: Path, demo_run: DemoRun) -> None:
    site_packages = [venv / "lib", venv / "Lib"]
    assert any(demo_run.imported_from.is_relative_to(p.resolve()) for p in site_packages)
    assert "site-packages" in demo_run.imported_from.parts
    assert not demo_run.imported_from.is_relative_to(ROOT.resolve())
    output = demo_run.output
    output.fnmatch_lines([f"tempo {__version__}: order=tiers, test-types=4, *"])
    output.fnmatch_lines([f"plugins: *tempo-{__version__}*"])
    ran = [line.split(" ")[0] for line in demo_run.lines if line.endswith(" PASSED")]
    assert ran[0] == "tests/smoke/test_health.py::test_service_answers"
    assert set(ran[-2:]) == {
        "tests/integration/test_store.py::test_many_orders",
        "tests/test_reports.py::test_yearly_report",
    }
    output.fnmatch_lines(["*= slow tests =*", "mark these slow (call over 0.10s, *"])
    output.fnmatch_lines(
        [
            "*= coverage floors =*",
            "total * PASS",
            "demo_app/pricing.py * 100% * 100% * PASS",
            "PASS: 2 of 2 coverage floors met",
        ]
    )
    output.fnmatch_lines(["*= 14 passed, 2 skipped in *"])


def test_wheel_shows_the_test_types_summary(demo_run: DemoRun) -> None:
    demo_run.output.fnmatch_lines(["*= test types =*"])
