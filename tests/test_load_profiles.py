from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.load.profiles import (
    PROFILE_NAMES,
    Stage,
    build_profile,
    check_profile_names,
    profile_allows,
)

MINUTE = 60.0


@pytest.mark.parametrize(
    ("name", "low", "high", "peak"),
    [
        ("smoke", 0.5 * MINUTE, MINUTE, 5),  # a pull request: under a minute, 1 to 5 users
        ("load", 5 * MINUTE, 10 * MINUTE, 10),
        ("stress", 10 * MINUTE, 20 * MINUTE, 30),  # up to 3x the expected users
        ("spike", 3 * MINUTE, 6 * MINUTE, 100),  # a jump to 10x
        ("soak", 4 * 60 * MINUTE, 12 * 60 * MINUTE, 10),
    ],
)
def test_lengths_and_peaks_follow_the_test_types(
    name: str, low: float, high: float, peak: int
) -> None:
    profile = build_profile(name, 10)
    assert low <= profile.duration <= high
    assert profile.peak == peak
    # a warm-up ramp (no cold start at full load) and a ramp down to 0
    assert profile.users_at(0) == 0
    assert profile.stages[0].seconds > 0
    assert profile.stages[-1].target == 0


def test_smoke_uses_a_few_users() -> None:
    assert build_profile("smoke", 1).peak == 1
    assert build_profile("smoke", 3).peak == 3
    assert build_profile("smoke", 500).peak == 5


def test_stress_steps_and_spike_jump() -> None:
    stress = build_profile("stress", 4)
    plateaus = [s.target for s in stress.stages if s.seconds >= 120 and s.target]
    assert plateaus == [4, 8, 12]
    spike = build_profile("spike", 4)
    jump = next(s for s in spike.stages if s.target == 40)
    assert jump.seconds <= 10  # sudden
    assert spike.users_at(spike.duration * 0.3) == 4  # held at 1x before the jump
    assert spike.users_at(spike.duration * 0.7) == 4  # and back after it


def test_users_at_interpolates_linearly() -> None:
    profile = build_profile("load", 10)
    assert profile.users_at(30) == 5
    assert profile.users_at(60) == 10
    assert profile.users_at(400) == pytest.approx(10 * (420 - 400) / 60)
    assert profile.users_at(profile.duration) == 0


def test_time_scale_and_k6_forms() -> None:
    profile = build_profile("smoke", 2, time_scale=0.01)
    assert profile.duration == pytest.approx(0.55)
    assert profile.k6_stages() == ["--stage", "100ms:2", "--stage", "350ms:2", "--stage", "100ms:0"]
    assert profile.stages_env() == "100ms:2,350ms:2,100ms:0"
    assert Stage(0.0001, 3).k6() == "1ms:3"
    assert profile.time_limit(0.01) == 2.0  # never under 2 s
    assert build_profile("smoke", 2).time_limit() == pytest.approx(55 * 1.5 + 30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("heavy", 10), "unknown profile 'heavy'; expected one of smoke, load"),
        (("load", 0), "vus must be 1 or more, not 0"),
        (("load", 1, 0.0), "time_scale must be a positive number"),
    ],
    ids=["unknown-profile", "zero-vus", "zero-time-scale"],
)
def test_build_profile_errors(args: tuple[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_profile(*args)


@given(st.sampled_from(PROFILE_NAMES), st.integers(1, 1000), st.floats(0, 1.0))
def test_users_never_exceed_the_peak(name: str, vus: int, fraction: float) -> None:
    profile = build_profile(name, vus)
    users = profile.users_at(profile.duration * fraction)
    assert 0 <= users <= profile.peak


@pytest.mark.parametrize(
    ("profile", "markers", "named", "runs"),
    [
        ("smoke", {"stress"}, None, True),  # smoke runs every load test
        ("smoke", set(), ("soak",), True),
        ("load", set(), None, True),
        ("load", {"load"}, None, True),
        # the type marker `load` (tests/load/* by default) never restricts a profile
        ("stress", {"load"}, None, True),
        ("spike", {"load"}, None, True),
        ("soak", {"load"}, None, True),
        ("stress", {"load", "stress"}, None, True),
        ("load", {"load", "stress"}, None, False),
        ("soak", {"spike", "soak", "db"}, None, True),
        ("spike", {"slow", "db"}, None, True),
        # load_profiles names the profiles exactly, over the stress/spike/soak markers
        ("stress", set(), ("stress", "spike"), True),
        ("load", set(), ("stress", "spike"), False),
        ("load", {"stress"}, ("load",), True),
        ("stress", {"stress"}, ("load",), False),
    ],
    ids=lambda v: (
        ("+".join(sorted(v)) or "none")
        if isinstance(v, set)
        else ("named-" + "+".join(v) if isinstance(v, tuple) else None)
    ),
)
def test_profile_allows(
    profile: str, markers: set[str], named: tuple[str, ...] | None, runs: bool
) -> None:
    assert profile_allows(profile, markers, named) is runs


def test_check_profile_names() -> None:
    assert check_profile_names(("stress", "soak")) is None
    assert check_profile_names(()) == (
        "load_profiles() names no profile; expected one or more of smoke, load, stress, spike, soak"
    )
    assert check_profile_names(("stress", "heavy")) == (
        "load_profiles('heavy'): unknown profile; expected one of smoke, load, stress, spike, soak"
    )


@given(st.sampled_from(PROFILE_NAMES), st.sets(st.sampled_from(["load", "db", "slow", "smoke"])))
def test_type_markers_never_skip_a_profile(profile: str, markers: set[str]) -> None:
    assert profile_allows(profile, markers)
