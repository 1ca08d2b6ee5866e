"""Plain helpers of the Ray tests (the fixtures ``ray_cluster`` and ``tiny_champion`` are in conftest.py):
the tiny campaign config, a free port, registering a folder, scraping Prometheus."""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST_CONFIG = REPO / "configs" / "test.yaml"

#: Campaign sizes that keep a 1-round campaign to about a minute on 2 busy cores.
TINY = [
    "data.max_train=128", "data.max_val=64", "data.max_test=96",
    "train.epochs=1", "train.num_threads=1",
    # a 128-tweet model is near-random: its val-calibrated threshold flags every text, so no attack
    # evades, nothing is retrained and the kill-mid-round test has no window; keep it at 0.5
    "train.calibrate_threshold=false",
    "attack.strategies=[homoglyph,leet,typos]", "campaign.heldout_family=unicode",  # homoglyph: held out
    "campaign.eval_pool_size=8", "campaign.benign_pool_size=8", "campaign.attack_train_pool_size=24",
    "campaign.live_eval_attacks=6", "campaign.train_attacks=12",
    "campaign.retrain.replay_size=48", "campaign.retrain.benign_perturbed_size=8",
    "campaign.gate.bootstrap=100", "campaign.retrain_below=1.0",
    "ray.actor_cpus=0.25", "ray.trainer_cpus=0.5",
]


def load_scale(cap: float = 4.0) -> float:
    """How much longer than on an idle machine to wait: the 1-min load average per core, between 1
    and ``cap``. A loaded machine makes these tests slower, never red (issue 13)."""
    try:
        return min(cap, max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)))
    except OSError:
        return 1.0


def wait_for(predicate, timeout: float, step: float = 0.2, what: str = "condition"):
    """Poll ``predicate`` until it returns a true value (exceptions count as not yet); the deadline is
    ``timeout`` times :func:`load_scale`, re-read while waiting."""
    start = time.monotonic()
    while time.monotonic() - start < timeout * load_scale():
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {time.monotonic() - start:.0f}s waiting for {what} "
                         f"(load average {os.getloadavg()[0]:.1f})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_config(*extra: str):
    from arena.config import load_config

    return load_config(TEST_CONFIG, TINY + list(extra))


def seed_registry(cfg, out: Path, defender_dir: Path, alias: str = "champion") -> str:
    """Register ``defender_dir`` in OUT's registry and point ``alias`` at it; returns the version."""
    from arena.registry import Registry

    reg = Registry.from_config(cfg, out)
    with reg.run("seeded-baseline", tags={"arena.kind": "baseline"}) as run:
        version = reg.register(defender_dir, run.info.run_id, tags={"kind": "baseline"})
    if alias:
        reg.set_alias(alias, version, round=0, reason="seeded by the test")
    return version


def scrape(url: str, needles: list[str], timeout: float = 60.0) -> str:
    """Poll a Prometheus endpoint until every needle appears; returns the last text."""
    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            text = urllib.request.urlopen(url, timeout=5).read().decode()
        except OSError:
            text = ""
        if all(n in text for n in needles):
            return text
        time.sleep(2)
    return text
