"""Every use of coverage.py and pytest-cov internals, one function per capability.

This is the only module that imports coverage.py or touches pytest-cov's plugin object; the
features (coverage floors, the coverage column of the test types summary) ask it for plain
data. Each function names the source file and the version it was checked against
(coverage.py 7.17, pytest-cov 7.1); ``tests/test_coverage_adapter.py`` has a test per
function on real coverage data, and the scheduled upstream workflow runs it against the
development branches, so a release that moves one of these internals breaks one test here
instead of a feature quietly.

The timing that the callers rely on (``pytest_cov/plugin.py``, ``CovPlugin``): pytest-cov
registers its plugin as ``"_cov"`` only when ``--cov`` is given; its ``pytest_runtestloop``
wrapper stops coverage after its ``yield`` and combines the data of every xdist worker
(``CovController.finish`` in ``pytest_cov/engine.py``), leaving the combined
``coverage.Coverage`` in ``cov_controller.cov``. A ``pytest_runtestloop`` wrapper marked
``tryfirst`` is the outer one: after *its* ``yield`` the data is combined, and bumping
``session.testsfailed`` still makes the exit code 1. Call :func:`coverage_of_run` there.

coverage.py is imported inside the functions: importing it costs about 25 ms, paid only by
runs that use a coverage feature.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import re
    from collections.abc import Iterator

    import pytest
    from coverage import Coverage
    from coverage.results import Analysis

__all__ = [
    "COVERAGE_RUN_XDIST",
    "NOT_ACTIVE",
    "NO_COV",
    "CovOptions",
    "DataSource",
    "FileNumbers",
    "GlobError",
    "analyses",
    "contexts_by_file",
    "coverage_of_run",
    "display_percent",
    "file_numbers",
    "find_coverage",
    "glob_regex",
    "measured_contexts",
    "paused",
    "pytest_cov_options",
    "pytest_cov_plugin",
    "report_precision",
]

NOT_ACTIVE = "coverage is not active; run with pytest-cov's --cov=PACKAGE"
NO_COV = "coverage is disabled by --no-cov"
COVERAGE_RUN_XDIST = (
    "'coverage run' combines the xdist workers' data only after pytest exits; "
    "use pytest-cov's --cov"
)


class GlobError(ValueError):
    """A pattern that coverage.py's glob syntax rejects; the message is coverage.py's."""


@dataclass(frozen=True)
class DataSource:
    """Where the run's coverage data is: a ``Coverage`` object, or why there is none."""

    cov: Coverage | None = None
    #: pytest-cov's precision (``--cov-precision``, else coverage's); None: ask ``cov``.
    precision: int | None = None
    #: Why there is no data ("" when there is).
    reason: str = ""
    #: The ``Coverage`` is still measuring (``coverage run``): pause it while analysing.
    running: bool = False


@dataclass(frozen=True)
class CovOptions:
    """The pytest-cov options the features read (all unset without pytest-cov)."""

    #: ``--cov-precision`` (or coverage's ``precision``, as pytest-cov resolves it).
    precision: int | None = None
    #: ``--cov-fail-under``; None when not given or 0.
    fail_under: float | None = None
    #: ``--no-cov-on-fail``.
    no_cov_on_fail: bool = False


@dataclass(frozen=True)
class FileNumbers:
    """The coverage numbers of one measured file, as ``coverage report`` counts them."""

    #: The file name as coverage.py reports it (absolute).
    filename: str
    statements: int
    missing: int
    branches: int = 0
    missing_branches: int = 0
    #: The missed lines and branches as ``coverage report -m`` shows them (``12-14, 3->5``);
    #: "" when nothing was missed.
    missed: str = ""


# --- pytest-cov -----------------------------------------------------------------------------


def pytest_cov_plugin(config: pytest.Config) -> object | None:
    """pytest-cov's plugin object, registered as ``"_cov"`` only under ``--cov``.

    pytest-cov 7.1, ``pytest_cov/plugin.py`` ``pytest_load_initial_conftests``:
    ``early_config.pluginmanager.register(plugin, '_cov')``.
    """
    return config.pluginmanager.get_plugin("_cov")


def pytest_cov_options(cov_plugin: object | None) -> CovOptions:
    """The options pytest-cov parsed (``CovPlugin.options``, an ``argparse.Namespace``).

    pytest-cov 7.1, ``pytest_cov/plugin.py``: ``options.cov_precision`` and
    ``options.cov_fail_under`` (falling back to coverage's ``precision`` and ``fail_under``
    in ``CovPlugin.start``), ``options.no_cov_on_fail``. Missing or mistyped attributes
    read as unset.
    """
    options = getattr(cov_plugin, "options", None)
    precision = getattr(options, "cov_precision", None)
    fail_under = getattr(options, "cov_fail_under", None)
    return CovOptions(
        precision=precision if isinstance(precision, int) else None,
        fail_under=(
            float(fail_under) if isinstance(fail_under, (int, float)) and fail_under else None
        ),
        no_cov_on_fail=getattr(options, "no_cov_on_fail", False) is True,
    )


def find_coverage(
    cov_plugin: object | None,
    *,
    no_cov: bool = False,
    xdist: bool = False,
    current: Coverage | None = None,
) -> DataSource:
    """The run's coverage data, from pytest-cov's plugin or a running ``coverage run``.

    ``cov_plugin`` is pytest-cov's ``"_cov"`` plugin, if registered; its ``_disabled`` is
    true under ``--no-cov`` and its ``cov_controller.cov`` is the (combined, once its
    ``pytest_runtestloop`` wrapper has returned) ``Coverage`` (pytest-cov 7.1,
    ``pytest_cov/plugin.py`` and ``engine.py``). ``current`` is the running ``Coverage``
    of ``coverage run -m pytest``: with xdist it has only the controller's data, the
    workers' is combined after pytest exits, too late for the exit code.
    """
    if cov_plugin is not None:
        if getattr(cov_plugin, "_disabled", False):
            return DataSource(reason=NO_COV)
        from coverage import Coverage  # pytest-cov is active: it imported coverage.py

        cov = getattr(getattr(cov_plugin, "cov_controller", None), "cov", None)
        if not isinstance(cov, Coverage):
            return DataSource(reason=NOT_ACTIVE)
        return DataSource(cov=cov, precision=pytest_cov_options(cov_plugin).precision)
    if current is not None:
        if xdist:
            return DataSource(reason=COVERAGE_RUN_XDIST)
        return DataSource(cov=current, running=True)
    return DataSource(reason=NO_COV if no_cov else NOT_ACTIVE)


def coverage_of_run(config: pytest.Config) -> DataSource:
    """The coverage data of this run; call it after pytest-cov's ``finish()`` (module doc).

    pytest-cov's data first; else, under ``coverage run -m pytest`` (coverage.py sets
    ``COVERAGE_RUN=true``, ``coverage/cmdline.py`` 7.17), ``Coverage.current()``. Without
    ``COVERAGE_RUN`` a running ``Coverage`` belongs to someone else, such as the pytest-cov
    of an outer run that runs this one in-process.
    """
    current = None
    if os.environ.get("COVERAGE_RUN") == "true":  # only then is coverage.py worth importing
        from coverage import Coverage

        current = Coverage.current()
    return find_coverage(
        pytest_cov_plugin(config),
        no_cov=bool(config.getoption("no_cov", default=False)),
        xdist=config.pluginmanager.has_plugin("dsession"),
        current=current,
    )


# --- coverage.py ----------------------------------------------------------------------------


@contextmanager
def paused(source: DataSource) -> Iterator[None]:
    """Stop a running ``Coverage`` (``coverage run``) for the block, so that the analysis
    is not measured itself, and start it again (as pytest-cov's ``no_cover`` marker does)."""
    cov = source.cov
    if cov is None or not source.running:
        yield
        return
    cov.stop()
    try:
        yield
    finally:
        cov.start()


def report_precision(cov: Coverage) -> int:
    """coverage.py's ``[report] precision`` (``Coverage.get_option``, public since 4.0)."""
    value = cov.get_option("report:precision")
    return value if isinstance(value, int) else 0


def analyses(cov: Coverage) -> Iterator[tuple[str, Analysis]]:
    """(file name, analysis) of every file that ``coverage report`` reports on.

    Its ``include``/``omit`` settings apply: the files come from
    ``coverage.report_core.get_analysis_to_report`` (coverage.py 7.17,
    ``coverage/report_core.py``), the generator every coverage.py report is built on. A
    file that cannot be parsed is skipped with coverage's warning, as pytest-cov's report
    does (``ignore_errors=True``). Raises ``coverage.exceptions.NoDataError`` when no file
    was measured.
    """
    from coverage.report_core import get_analysis_to_report

    cov.get_data()  # under 'coverage run', moves the collected lines into the data
    ignore_errors = cov.get_option("report:ignore_errors")
    cov.set_option("report:ignore_errors", True)
    try:
        for reporter, analysis in get_analysis_to_report(cov, None):
            yield reporter.filename, analysis
    finally:
        cov.set_option("report:ignore_errors", ignore_errors)


def file_numbers(cov: Coverage) -> list[FileNumbers]:
    """The numbers of every reported file (see :func:`analyses`), each analysed once; [] when
    nothing was measured.

    Reads ``Analysis.numbers`` (``n_statements``, ``n_missing``, ``n_branches``,
    ``n_missing_branches``), ``Analysis.has_arcs`` and ``Analysis.missing_formatted``
    (coverage.py 7.17, ``coverage/results.py``).
    """
    from coverage.exceptions import NoDataError

    files = []
    try:
        for filename, analysis in analyses(cov):
            numbers = analysis.numbers
            missed = ""
            if numbers.n_missing or numbers.n_missing_branches:
                missed = analysis.missing_formatted(branches=analysis.has_arcs)
            files.append(
                FileNumbers(
                    filename=filename,
                    statements=numbers.n_statements,
                    missing=numbers.n_missing,
                    branches=numbers.n_branches,
                    missing_branches=numbers.n_missing_branches,
                    missed=missed,
                )
            )
    except NoDataError:
        return []
    return files


def measured_contexts(cov: Coverage) -> set[str]:
    """The contexts recorded in the run's data (``CoverageData.measured_contexts``, 5.0+)."""
    return cov.get_data().measured_contexts()


def contexts_by_file(cov: Coverage) -> list[tuple[set[int], dict[int, list[str]]]]:
    """Per reported file, its statements and the contexts that ran each line; [] when
    nothing was measured.

    ``Analysis.statements`` and ``Analysis.filename`` (coverage.py 7.17,
    ``coverage/results.py``), asked of ``CoverageData.contexts_by_lineno`` the way
    coverage's own HTML and JSON reports ask (``coverage/html.py``, ``coverage/jsonreport.py``).
    """
    from coverage.exceptions import NoDataError

    data = cov.get_data()
    try:
        return [
            (set(analysis.statements), data.contexts_by_lineno(analysis.filename))
            for _, analysis in analyses(cov)
        ]
    except NoDataError:
        return []


def glob_regex(pattern: str, *, case_insensitive: bool | None = None) -> re.Pattern[str]:
    """The regex of one glob in coverage.py's syntax (``[report] include`` and ``omit``).

    ``*`` inside a directory, ``**/`` any directories, a trailing ``/*`` everything below, a
    pattern without ``/`` a file name anywhere; both slashes match either separator.
    ``coverage.files.globs_to_regex`` (coverage.py 7.17, ``coverage/files.py``; its
    ``ConfigError`` on a malformed glob is raised as :class:`GlobError`). Case-insensitive
    where file names are (``None``: as ``os.path.normcase`` says).
    """
    from coverage.exceptions import ConfigError
    from coverage.files import globs_to_regex

    if case_insensitive is None:
        case_insensitive = os.path.normcase("A") == "a"
    try:
        return globs_to_regex([pattern], case_insensitive=case_insensitive)
    except ConfigError as exc:
        raise GlobError(str(exc)) from None


def display_percent(value: float, decimals: int) -> str:
    """A percentage as coverage.py shows it, with ``%``: ``0`` and ``100`` only when exact
    (``coverage.results.display_covered``, coverage.py 7.17, ``coverage/results.py``)."""
    from coverage.results import display_covered

    return display_covered(value, decimals) + "%"
