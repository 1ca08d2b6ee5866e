"""The arena's Prometheus metrics, recorded with ``ray.util.metrics``.

Ray exports application metrics on every node's metrics port (``ray start --metrics-export-port``,
8080 in k8s/) and prefixes their names with ``ray_``: the names below appear as
``ray_arena_detection_rate``, ``ray_arena_moderation_latency_seconds_bucket`` and so on (the
Grafana dashboard in k8s/base/grafana/arena.json queries exactly those).

| metric                               | type      | tags                         | set by                    |
| ------------------------------------ | --------- | ---------------------------- | ------------------------- |
| arena_detection_rate                 | gauge     | campaign_id, round, kind     | CoordinatorActor per round |
| arena_attack_success_rate            | gauge     | campaign_id, strategy        | CoordinatorActor per round |
| arena_moderation_requests_total      | counter   | status (ok, error)           | defender deployment        |
| arena_moderation_latency_seconds     | histogram | -                            | defender deployment        |
| arena_moderation_batch_size          | histogram | -                            | defender deployment        |
| arena_champion_version               | gauge     | -                            | defender deployment, coordinator |
| arena_promotions_total               | counter   | source (campaign, api)       | coordinator, promote endpoint |

``kind`` of the detection rate is ``frozen`` (frozen suite, training strategies), ``live``
(1 - live attack success) or ``heldout`` (frozen suite, held-out family).

Ray drops a gauge from /metrics about 20 s after its last ``set``; :class:`GaugeBoard` keeps the
latest value of every tag set and re-sets them from a daemon thread so they stay visible for as
long as the process that owns them lives.

Each process creates its own metric objects (this module is imported inside Ray workers only).
"""

from __future__ import annotations

import threading
from typing import Any

from ray.util.metrics import Counter, Gauge, Histogram

LATENCY_BOUNDARIES_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0]
BATCH_SIZE_BOUNDARIES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
REFRESH_S = 5.0  # well inside Ray's 20 s expiry of unset gauges

_lock = threading.Lock()
_metrics: dict[str, Any] = {}


def _get(name: str, factory) -> Any:
    with _lock:
        if name not in _metrics:
            _metrics[name] = factory()
        return _metrics[name]


def detection_rate() -> Gauge:
    return _get("arena_detection_rate", lambda: Gauge(
        "arena_detection_rate", description="Share of attacks the champion flags (kind: frozen, live, heldout).",
        tag_keys=("campaign_id", "round", "kind")))


def attack_success_rate() -> Gauge:
    return _get("arena_attack_success_rate", lambda: Gauge(
        "arena_attack_success_rate", description="Live attack success rate per strategy in the last round.",
        tag_keys=("campaign_id", "strategy")))


def moderation_requests() -> Counter:
    return _get("arena_moderation_requests_total", lambda: Counter(
        "arena_moderation_requests_total", description="Moderation requests served, by status.",
        tag_keys=("status",)))


def moderation_latency() -> Histogram:
    return _get("arena_moderation_latency_seconds", lambda: Histogram(
        "arena_moderation_latency_seconds", description="Defender time per moderation request (queue + batch).",
        boundaries=LATENCY_BOUNDARIES_S))


def moderation_batch_size() -> Histogram:
    return _get("arena_moderation_batch_size", lambda: Histogram(
        "arena_moderation_batch_size", description="Texts per defender forward batch (dynamic batching).",
        boundaries=BATCH_SIZE_BOUNDARIES))


def champion_version() -> Gauge:
    return _get("arena_champion_version", lambda: Gauge(
        "arena_champion_version", description="Registry version of the champion defender."))


def promotions() -> Counter:
    return _get("arena_promotions_total", lambda: Counter(
        "arena_promotions_total", description="Champion promotions (alias moves to a new version).",
        tag_keys=("source",)))


class GaugeBoard:
    """Latest value per (gauge, tags), re-set every ``REFRESH_S`` seconds by a daemon thread."""

    def __init__(self, refresh_s: float = REFRESH_S) -> None:
        self._values: dict[tuple[int, tuple[tuple[str, str], ...]], float] = {}
        self._gauges: dict[int, Gauge] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._refresh_s = refresh_s
        self._thread: threading.Thread | None = None

    def set(self, gauge: Gauge, value: float, tags: dict[str, str] | None = None) -> None:
        key = (id(gauge), tuple(sorted((tags or {}).items())))
        with self._lock:
            self._gauges[id(gauge)] = gauge
            self._values[key] = float(value)
        gauge.set(float(value), tags=tags or None)
        self._ensure_thread()

    def values(self) -> list[tuple[dict[str, str], float]]:
        """Every (tags, value) held, all gauges together (for status pages and tests)."""
        with self._lock:
            return [(dict(tags), value) for (_, tags), value in self._values.items()]

    def refresh(self) -> None:
        with self._lock:
            items = [(self._gauges[gid], dict(tags), value) for (gid, tags), value in self._values.items()]
        for gauge, tags, value in items:
            gauge.set(value, tags=tags or None)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="arena-gauge-refresh", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._refresh_s):
            try:
                self.refresh()
            except Exception:  # a metrics hiccup must never kill the owner
                pass

    def close(self) -> None:
        self._stop.set()
