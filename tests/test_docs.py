"""The configuration reference lists every option and marker the code registers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tempo.markers import MARKERS
from pytest_tempo.settings import OPTIONS, Option

REFERENCE = (Path(__file__).parent.parent / "docs" / "reference.md").read_text()


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.field)
def test_every_option_is_in_the_reference(option: Option) -> None:
    if option.flag:
        assert f"`{option.flag}" in REFERENCE
    if option.ini:
        assert f"`{option.ini}`" in REFERENCE


@pytest.mark.parametrize("marker", list(MARKERS))
def test_every_marker_is_in_the_reference(marker: str) -> None:
    assert f"| `{marker}` |" in REFERENCE
