"""The ``--slow-report-json`` document as text, written fast for suites of 100,000 tests.

The document is :func:`pytest_tempo.timing.outputs.to_json`'s (schema:
``schemas/slow-report.json``); what differs is how it is made. A dictionary per test handed
to ``json.dumps`` costs about four microseconds a test on the reference machine; here each
test's entry is one ``%`` format of the C string encoder's node id and its seconds, the
entries are sorted as tuples, and only the small parts of the document go through
``json.dumps``. Seconds, ``start`` and ``stop`` are written to the microsecond.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING

from .timing.outputs import summary_parts

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .timing.aggregate import TestTiming, TimingSummary

__all__ = ["encode_report"]

_ROW = (
    '{"nodeid": %s, "setup": %.6f, "call": %.6f, "teardown": %.6f, "total": %.6f, '
    '"marked_slow": %s, "worker": %s, "start": %.6f, "stop": %.6f}'
)


def _rows(timings: Iterable[TestTiming]) -> list[tuple[float, str, str]]:
    """(-total, node id, the test's JSON entry) per test."""
    workers: dict[str, str] = {}
    rows = []
    for t in timings:
        setup, call, teardown = t.setup, t.call, t.teardown
        total = setup + call + teardown
        worker = workers.get(t.worker)
        if worker is None:
            worker = workers[t.worker] = encode_basestring_ascii(t.worker)
        slow = "true" if t.marked_slow else "false"
        nodeid = t.nodeid
        entry = _ROW % (encode_basestring_ascii(nodeid), setup, call, teardown, total, slow,
                        worker, t.start, t.stop)  # fmt: skip
        rows.append((-total, nodeid, entry))
    return rows


def encode_report(
    summary: TimingSummary,
    timings: Iterable[TestTiming],
    extras: Iterable[tuple[str, object]] = (),
) -> str:
    """The document of a run: ``timings`` are every test, ``extras`` the (key, value) parts
    other features add (a value of None leaves its key out)."""
    everything = _rows(timings)
    everything.sort()  # longest total first, then by node id
    slow = [entry for _, _, entry in _rows(summary.slow)]
    head = summary_parts(summary)
    tail: dict[str, object] = {"total": round(summary.total, 6)}
    tail.update((key, value) for key, value in extras if value is not None)
    before, after = json.dumps(head).split('"tests": null', 1)
    return "".join(
        (
            before,
            '"tests": [',
            ", ".join(slow),
            "]",
            after[:-1],  # without the closing brace
            ', "all_tests": [',
            ", ".join([entry for _, _, entry in everything]),
            "], ",
            json.dumps(tail)[1:],
        )
    )
