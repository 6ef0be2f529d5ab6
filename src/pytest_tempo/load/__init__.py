"""Load tests as pytest items: k6 scripts, Locust users, k6-style thresholds and profiles.

Nothing here imports Locust: it monkey-patches the whole process with gevent, so it only ever
runs in a child process (:mod:`pytest_tempo.load._locust_child`).
"""

from __future__ import annotations
