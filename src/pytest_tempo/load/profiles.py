"""The test-type profiles behind ``--load-profile``: smoke, load, stress, spike and soak.

A profile is a list of k6-style stages (ramp linearly to ``target`` users over ``seconds``),
scaled from the expected number of virtual users (``--load-vus``):

========  ============  ====================================================================
profile   length        shape
========  ============  ====================================================================
smoke     55 s          ramp to a few users (1 to 5), hold, ramp down: fits a pull request
load      7 min         ramp to the expected users over 1 min, hold 5 min, ramp down 1 min
stress    13 min        steps to 1x, 2x and 3x the expected users, each held, then down
spike     4 min 20 s    warm at 1x, a sudden jump to 10x (10 s), held 1 min, back to 1x, down
soak      4 h 10 min    ramp to the expected users over 5 min, hold 4 h, ramp down 5 min
========  ============  ====================================================================

``time_scale`` shrinks every stage (``0.01`` turns the 55 s smoke run into 0.55 s), for
rehearsing a profile's shape quickly. Everything here is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "PROFILES_MARKER",
    "PROFILE_NAMES",
    "RESTRICTING_MARKERS",
    "Profile",
    "ProfileName",
    "Stage",
    "build_profile",
    "check_profile_names",
    "profile_allows",
]

ProfileName = Literal["smoke", "load", "stress", "spike", "soak"]
PROFILE_NAMES: tuple[ProfileName, ...] = ("smoke", "load", "stress", "spike", "soak")

#: Markers that restrict a test to the profile of the same name. ``load`` is not one of them:
#: it is the test *type* (the default ``test_types`` give it to everything in ``tests/load/``),
#: and a test of that type runs under every profile.
RESTRICTING_MARKERS = ("stress", "spike", "soak")
#: The marker naming the profiles a test runs under: ``@pytest.mark.load_profiles("stress")``.
PROFILES_MARKER = "load_profiles"


@dataclass(frozen=True)
class Stage:
    """Ramp linearly from the previous stage's target to ``target`` users over ``seconds``."""

    seconds: float
    target: int

    def k6(self) -> str:
        """The ``--stage`` value k6 takes: ``1500ms:10``."""
        return f"{max(1, round(self.seconds * 1000))}ms:{self.target}"


@dataclass(frozen=True)
class Profile:
    """A named load shape: stages starting from 0 users."""

    name: str
    vus: int
    stages: tuple[Stage, ...]

    @property
    def duration(self) -> float:
        return sum(stage.seconds for stage in self.stages)

    @property
    def peak(self) -> int:
        return max((stage.target for stage in self.stages), default=0)

    def users_at(self, t: float) -> float:
        """The planned number of users ``t`` seconds into the run (0 after the end)."""
        start = 0.0
        previous = 0
        for stage in self.stages:
            end = start + stage.seconds
            if t < end:
                if stage.seconds <= 0:
                    return float(stage.target)
                return previous + (stage.target - previous) * (t - start) / stage.seconds
            start, previous = end, stage.target
        return 0.0 if t >= start else float(previous)

    def k6_stages(self) -> list[str]:
        """``--stage`` flags for k6 (they replace the script's own scenarios)."""
        flags: list[str] = []
        for stage in self.stages:
            flags += ["--stage", stage.k6()]
        return flags

    def stages_env(self) -> str:
        """``LOAD_STAGES`` for scripts that build their own scenarios: ``1500ms:10,...``."""
        return ",".join(stage.k6() for stage in self.stages)

    def time_limit(self, scale: float = 1.0) -> float:
        """A hard limit for a child running this profile: 1.5 x its length plus 30 s, scaled.

        The profile's stages are already scaled; ``scale`` scales the fixed 30 s margin the
        same way, and the limit is never under 2 s.
        """
        return max(2.0, self.duration * 1.5 + 30.0 * scale)


def _stages(*pairs: tuple[float, int]) -> tuple[Stage, ...]:
    return tuple(Stage(seconds, target) for seconds, target in pairs)


def build_profile(name: str, vus: int, time_scale: float = 1.0) -> Profile:
    """The stages of profile ``name`` for ``vus`` expected users, every length scaled."""
    if vus < 1:
        raise ValueError(f"vus must be 1 or more, not {vus}")
    if not (math.isfinite(time_scale) and time_scale > 0):
        raise ValueError(f"time_scale must be a positive number, not {time_scale}")
    n = vus
    if name == "smoke":
        few = min(5, n)
        pairs: tuple[tuple[float, int], ...] = ((10, few), (35, few), (10, 0))
    elif name == "load":
        pairs = ((60, n), (300, n), (60, 0))
    elif name == "stress":
        pairs = ((60, n), (120, n), (60, 2 * n), (180, 2 * n), (60, 3 * n), (180, 3 * n), (120, 0))
    elif name == "spike":
        pairs = ((30, n), (60, n), (10, 10 * n), (60, 10 * n), (10, n), (60, n), (30, 0))
    elif name == "soak":
        pairs = ((300, n), (4 * 3600, n), (300, 0))
    else:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILE_NAMES)}")
    return Profile(name, vus, _stages(*((s * time_scale, t) for s, t in pairs)))


def profile_allows(
    profile: str,
    markers: frozenset[str] | set[str],
    named: Sequence[str] | None = None,
) -> bool:
    """Whether a load test with ``markers`` runs under ``profile``.

    ``named`` holds the profiles of a ``load_profiles(...)`` marker (None without one).
    ``smoke`` runs every load test (the check before any long run). Under another profile a
    test runs when ``load_profiles`` names it; without that marker, when none of the markers
    ``stress``, ``spike``, ``soak`` is on the test or one of them names the profile. The type
    marker ``load`` never restricts.
    """
    if profile == "smoke":
        return True
    if named is not None:
        return profile in named
    restricting = markers.intersection(RESTRICTING_MARKERS)
    return not restricting or profile in restricting


def check_profile_names(names: Sequence[object]) -> str | None:
    """Why the arguments of a ``load_profiles`` marker cannot be used, or None."""
    if not names:
        return f"{PROFILES_MARKER}() names no profile; expected one or more of " + ", ".join(
            PROFILE_NAMES
        )
    for name in names:
        if name not in PROFILE_NAMES:
            return f"{PROFILES_MARKER}({name!r}): unknown profile; expected one of " + ", ".join(
                PROFILE_NAMES
            )
    return None
