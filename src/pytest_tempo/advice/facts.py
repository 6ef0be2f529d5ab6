"""What the advice reads of the fixture definitions pytest resolved.

:func:`fixture_facts` reads where each narrow-scoped fixture is defined and how wide its
dependencies let it be. Loaded when there is a fixture to judge, or by an xdist worker when
its tests are done (the hooks in :mod:`.hooks` stay small).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection

    import pytest
    from pytest import Config


__all__ = ["fact_key", "fixture_facts"]


def fact_key(name: str, scope: str, baseid: str) -> str:
    return f"{baseid}::{name}::{scope}"


def fixture_facts(
    items: list[pytest.Item],
    config: Config,
    wanted: Collection[tuple[str, str, str]] | None = None,
) -> dict[str, list[str]]:
    """Where each fixture the collection uses below session scope is defined, and how wide
    its dependencies let it be (only those of ``wanted``, ``(name, scope, baseid)``, when
    given): read from the fixture definitions pytest resolved for each test function (its
    ``_fixtureinfo``, shared by the function's parametrizations; src/_pytest/fixtures.py,
    ``FuncFixtureInfo.name2fixturedefs``), so no hook runs per fixture set-up."""
    facts: dict[str, list[str]] = {}
    seen_infos: set[int] = set()
    seen_defs: set[int] = set()
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or id(info) in seen_infos:
            continue
        seen_infos.add(id(info))
        visible = getattr(info, "name2fixturedefs", None) or {}
        for definitions in visible.values():
            for fixturedef in definitions:
                if id(fixturedef) in seen_defs or fixturedef.scope == "session":
                    continue
                seen_defs.add(id(fixturedef))
                name, scope, baseid = fixturedef.argname, fixturedef.scope, fixturedef.baseid
                if wanted is not None and (name, scope, baseid) not in wanted:
                    continue
                key = fact_key(name, scope, baseid)
                facts[key] = [_location(fixturedef, config), _widest(fixturedef, visible)]
        if wanted is not None and len(facts) == len(wanted):
            break  # every fixture asked for is found
    return facts


def _location(fixturedef: pytest.FixtureDef[Any], config: Config) -> str:
    code = getattr(fixturedef.func, "__code__", None)
    if code is None:
        return ""
    try:
        path = config.rootpath.joinpath(code.co_filename).relative_to(config.rootpath)
    except ValueError:
        return ""
    return f"{path.as_posix()}:{code.co_firstlineno}"


def _widest(fixturedef: pytest.FixtureDef[Any], visible: dict[str, Any]) -> str:
    """The widest scope the fixture's dependencies allow; its own when it is parametrized
    (each parameter is set up anyway)."""
    from .scope import widest_scope

    # pytest's pseudo fixture of a directly parametrized argument (``get_direct_param_fixture_
    # func`` in src/_pytest/fixtures.py) is not the user's to widen.
    direct = getattr(fixturedef.func, "__name__", "") == "get_direct_param_fixture_func"
    if fixturedef.params is not None or direct:
        return fixturedef.scope
    # The definitions visible to the test: the last one of each name is the one used.
    scopes = [visible[arg][-1].scope for arg in fixturedef.argnames if visible.get(arg)]
    return widest_scope(scopes)
