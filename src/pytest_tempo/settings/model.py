"""The shapes of the configuration: the frozen :class:`Settings` and a row of the table.

This module owns what a feature reads from ``config.stash[SETTINGS_KEY]``: the accepted
modes of each choice option, the value types that parsed lines become (:class:`TypeRule`,
:class:`Floor`, :class:`ShardSpec`) and the :class:`Settings` dataclass itself; and
:class:`Option`, one row of the table in :mod:`.options`. It imports nothing of
pytest-tempo at run time, so every other part of the package can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..databases.urls import DbUrl
    from ..load.limits import Limit

OrderMode = Literal["tiers", "durations", "off"]
DistMode = Literal["off", "duration"]
DIST_MODES: tuple[DistMode, ...] = ("off", "duration")
ORDER_MODES: tuple[OrderMode, ...] = ("tiers", "durations", "off")
HygieneMode = Literal["off", "report", "strict"]
HYGIENE_MODES: tuple[HygieneMode, ...] = ("off", "report", "strict")
AdviceMode = Literal["on", "off"]
ADVICE_MODES: tuple[AdviceMode, ...] = ("on", "off")
BaselineMode = Literal["auto", "compare", "update", "off"]
BASELINE_MODES: tuple[BaselineMode, ...] = ("auto", "compare", "update", "off")


@dataclass(frozen=True)
class TypeRule:
    """One ``test_types`` line: tests whose path matches ``glob`` get ``markers``."""

    glob: str
    markers: tuple[str, ...]


@dataclass(frozen=True)
class Floor:
    """One coverage floor: ``pattern`` (``total`` or a path glob) must reach ``percent``."""

    pattern: str
    percent: float

    @property
    def is_total(self) -> bool:
        return self.pattern == "total"


@dataclass(frozen=True)
class Settings:
    """Everything pytest-tempo was configured with, validated."""

    order: OrderMode = "tiers"
    test_types: tuple[TypeRule, ...] = ()
    extra_markers: tuple[tuple[str, str], ...] = ()
    db_name: str = "test_db"
    db_unique: bool = False
    db_url: DbUrl | None = None  # None: a SQLite file in pytest's temporary directory
    redis_url: str | None = None
    slow_threshold: float = 1.0
    slow_report: int | None = 10  # None: every slow test
    slow_report_json: str | None = None
    slow_strict: bool = False
    durations_path: str | None = None  # None: the store is in pytest's cache
    dist: DistMode = "off"
    shard: ShardSpec | None = None
    html: str | None = None
    cov_floors: tuple[Floor, ...] = ()
    cov_floors_required: bool = False
    load_profile: str | None = None  # None: load tests are skipped
    load_vus: int = 10
    load_time_scale: float = 1.0
    k6_scripts: tuple[str, ...] = ("*.k6.js",)
    load_baseline: BaselineMode = "auto"
    load_regression: tuple[Limit, ...] = ()
    load_baseline_path: str | None = None  # None: pytest's cache
    k6_binary: str | None = None
    load_require: bool = False
    load_watch: str | None = None
    load_rss_growth_limit: float | None = None
    hygiene: HygieneMode = "report"
    advice: AdviceMode = "on"
    #: (field, message) of values from a shared environment variable that the option cannot
    #: use: the feature reports them when it is used (see ``Option.shared_env``).
    deferred: tuple[tuple[str, str], ...] = ()

    def problem(self, field: str) -> str | None:
        return dict(self.deferred).get(field)


@dataclass(frozen=True)
class ShardSpec:
    """``--shard=K/N``: run shard ``index`` (1-based) of ``count``."""

    index: int
    count: int


@dataclass(frozen=True)
class Option:
    """One user-facing setting: its flag, its ini key, its default, its parser, and the words
    that describe it in ``pytest --help`` and in the configuration reference.

    ``help``, ``kind``, ``example`` and ``shown_default`` are Markdown (code in backticks), so
    the reference can show them as they are; ``pytest --help`` shows ``help`` followed by
    ``Default: ...`` from the data.
    """

    field: str
    #: What the setting does, in sentences; without the default, which is added from the data.
    help: str
    parse: Callable[[Any], Any]
    #: The accepted values in words, e.g. "seconds, 0 or more".
    kind: str
    #: A flag or an ini line as a user writes it, e.g. "`--slow-threshold=0.5`".
    example: str
    flag: str | None = None
    ini: str | None = None
    ini_type: Literal["string", "linelist"] = "string"
    default: str | tuple[str, ...] = ""
    #: The default as users should read it, where the raw ``default`` is not (an environment
    #: fallback, say); None shows ``default``.
    shown_default: str | None = None
    metavar: str | None = None
    action: Literal["store", "store_true", "append"] = "store"
    #: Environment variables read, in order, when neither the flag nor the ini key is set.
    env: tuple[str, ...] = ()
    #: Of ``env``, the variables other tools read too (``DATABASE_URL``): a value there that
    #: this option cannot use is reported when the feature is used, not at start-up.
    shared_env: tuple[str, ...] = ()
    #: Mask the password of a URL value in error messages.
    secret: bool = False

    @property
    def dest(self) -> str:
        return "tempo_" + self.field

    @property
    def default_text(self) -> str:
        """The default in Markdown: `1.0`, "unset", "none", or ``shown_default``."""
        if self.shown_default is not None:
            return self.shown_default
        if isinstance(self.default, tuple):
            return ", ".join(f"`{line}`" for line in self.default) or "none"
        return f"`{self.default}`" if self.default else "unset"

    @property
    def help_text(self) -> str:
        """The ``pytest --help`` text: ``help`` and the default."""
        return f"{self.help} Default: {self.default_text.replace('`', '')}."


SETTINGS_KEY = pytest.StashKey[Settings]()
