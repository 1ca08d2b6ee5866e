"""Ray actors: fractional GPU placement on a fake GPU, and kill-and-resume of a tiny campaign."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ray_helpers import load_scale, scrape, seed_registry, tiny_config, wait_for

pytestmark = pytest.mark.ray


def test_roles_share_one_gpu_by_fractions(ray_cluster, tmp_path):
    import ray
    from ray.exceptions import GetTimeoutError

    from arena.actors import AttackerActor, DefenderActor
    from arena.cluster import gpu_share, placement

    rc = tiny_config().ray
    assert ray.cluster_resources()["GPU"] == 1  # the fake GPU of the session cluster
    shares = {role: gpu_share(role, rc) for role in ("defender", "attacker", "trainer")}
    assert shares == {"defender": 0.25, "attacker": 0.25, "trainer": 0.5}

    defender = ray.remote(DefenderActor).options(num_cpus=0, num_gpus=shares["defender"]).remote(None, str(tmp_path))
    attacker = ray.remote(AttackerActor).options(num_cpus=0, num_gpus=shares["attacker"]).remote(None)
    d, a = ray.get([defender.info.remote(), attacker.info.remote()], timeout=120 * load_scale())

    @ray.remote
    def trainer_probe():
        return placement(), ray.available_resources().get("GPU", 0.0)

    t, gpu_left = ray.get(trainer_probe.options(num_cpus=0, num_gpus=shares["trainer"]).remote(), timeout=120 * load_scale())
    for info, share in ((d, 0.25), (a, 0.25), (t, 0.5)):
        assert info["gpu_ids"] == ["0"], info  # all three on the same device
        assert info["resources"]["GPU"] == pytest.approx(share), info
        assert info["cuda_visible_devices"] == "0"
    # Ray starts a 0-CPU worker with OMP_NUM_THREADS=1; campaign workers take the node's cores
    assert d["torch_threads"] == a["torch_threads"] == os.cpu_count()
    assert gpu_left == pytest.approx(0.0, abs=1e-6)  # the three shares fill the GPU

    # the GPU is full while defender + attacker + another 0.5 holder live: a 0.25 actor must wait
    holder = ray.remote(AttackerActor).options(num_cpus=0, num_gpus=0.5).remote(None)
    ray.get(holder.info.remote(), timeout=60 * load_scale())
    extra = ray.remote(AttackerActor).options(num_cpus=0, num_gpus=0.25).remote(None)
    with pytest.raises(GetTimeoutError):
        ray.get(extra.info.remote(), timeout=3)
    ray.kill(holder)
    assert ray.get(extra.info.remote(), timeout=60 * load_scale())["resources"]["GPU"] == pytest.approx(0.25)
    for actor in (defender, attacker, extra):
        ray.kill(actor)


def test_cpu_only_cluster_asks_for_no_gpu(monkeypatch):
    import ray

    from arena.cluster import gpu_share

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    rc = tiny_config().ray
    assert [gpu_share(r, rc) for r in ("defender", "attacker", "trainer")] == [0.0, 0.0, 0.0]


def _parts(out: Path, rnd: int) -> list[Path]:
    return sorted((out / "records" / f"round={rnd}").glob("part-*.parquet"))


def _complete(out: Path, rnd: int) -> bool:
    return (out / "records" / f"round={rnd}" / "_COMPLETE").is_file()


def test_kill_and_resume_loses_and_duplicates_no_rows(ray_cluster, tiny_champion, tmp_path):
    import pyarrow.parquet as pq
    import ray

    from arena.actors import launch_campaign

    cfg = tiny_config()
    out = tmp_path / "campaign"
    seed_registry(cfg, out, tiny_champion)
    handle = launch_campaign(cfg, out, rounds=1, progress=False)
    try:
        pid0 = wait_for(lambda: handle.status()["placement"]["pid"], 180, what="coordinator status")
        # the defender dies while the campaign sets up (frozen suite scoring): restarted, call retried
        wait_for(lambda: ray.get(handle.defender.info.remote(), timeout=10)["loaded"], 120,
                 what="the defender actor loading the champion")
        ray.kill(handle.defender, no_restart=False)
        # the coordinator dies mid-round 0: attack records written, round not committed (retraining)
        def round0_open():
            if _complete(out, 0):  # committed before we saw it open: the champion left nothing to retrain
                return "missed"
            return _parts(out, 0) and "open"

        seen = wait_for(round0_open, 300, what="round 0 records before commit")
        assert seen == "open", f"round 0 committed without a retrain window: {handle.status()}"
        ray.kill(handle.coordinator, no_restart=False)
        ray.kill(handle.attacker, no_restart=False)
        summary = handle.wait(timeout=480 * load_scale())
        status = handle.status()
        assert status["placement"]["pid"] != pid0  # the coordinator was restarted and resumed
        assert [r["round"] for r in summary["rounds"]] == [0, 1]

        state = json.loads((out / "state.json").read_text())
        assert state["next_round"] == 2
        # every part on disk, committed or not
        rows = [r for part in sorted((out / "records").rglob("part-*.parquet")) for r in pq.read_table(part).to_pylist()]
        keys = [(r["round"], r["pool"], r["text_id"], r["strategy"], r["seed"]) for r in rows]
        assert len(keys) == len(set(keys)), "duplicated record rows"
        assert len({k[:3] for k in keys}) == len(keys)  # one attack per text, pool and round
        pools = state["pools"]
        per_round = (min(cfg.campaign.live_eval_attacks, len(pools["eval"]))
                     + min(cfg.campaign.train_attacks, len(pools["attack_train"])))
        for rnd in (0, 1):
            assert _complete(out, rnd)
            assert sum(1 for k in keys if k[0] == rnd) == per_round, f"lost rows in round {rnd}"
        assert all(not p.name.endswith(".tmp") for p in (out / "records").rglob("*"))

        # round metrics are exported while the coordinator lives (Ray prefixes ray_)
        cid = state["campaign_id"]
        published = ray.get(handle.coordinator.published_metrics.remote())
        kinds = {tags.get("kind") for tags, _ in published if tags.get("campaign_id") == cid}
        assert {"frozen", "live"} <= kinds
        text = scrape(ray_cluster.metrics_url, ["ray_arena_detection_rate{", "ray_arena_attack_success_rate{",
                                                 f'campaign_id="{cid}"'])
        assert f'campaign_id="{cid}"' in text and 'kind="frozen"' in text
    finally:
        handle.shutdown()


def test_second_launch_on_a_busy_out_is_refused(ray_cluster, tiny_champion, tmp_path):
    from arena.actors import launch_campaign
    from arena.errors import ArenaError

    cfg = tiny_config()
    out = tmp_path / "busy"
    seed_registry(cfg, out, tiny_champion)
    handle = launch_campaign(cfg, out, rounds=0, progress=False)
    try:
        with pytest.raises(ArenaError, match="already running"):
            launch_campaign(cfg, out, rounds=0, progress=False)
    finally:
        handle.shutdown()
