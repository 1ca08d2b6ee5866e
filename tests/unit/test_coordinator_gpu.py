"""The CoordinatorActor holds no GPU share: with train.device=cuda a fresh OUT's baseline trains in a Ray
task with the trainer's share (then Campaign finds the champion); on CPU nothing changes. Ray is faked:
no cluster starts here (the real actors run in tests/integration/test_ray_actors.py, marker ray)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from arena import actors
from arena.config import load_config


class FakeRemote:
    """Stands in for ``ray.remote(**deco)(fn).options(**opts).remote(*args)``; records every step."""

    calls: list[dict] = []

    def __init__(self, fn=None, **deco) -> None:
        self.fn, self.deco = fn, deco

    def __call__(self, fn):
        return FakeRemote(fn, **self.deco)

    def options(self, **opts):
        self.opts = opts
        return self

    def remote(self, *args):
        FakeRemote.calls.append({"fn": self.fn, "deco": self.deco, "opts": self.opts, "args": args})
        return "ref"


@pytest.fixture
def fake_ray(monkeypatch):
    FakeRemote.calls = []
    monkeypatch.setattr(actors.ray, "remote", lambda fn=None, **deco: FakeRemote(fn, **deco))
    monkeypatch.setattr(actors, "gpu_share", lambda role, rc: {"trainer": 0.5}.get(role, 0.25))
    report = {"model_version": "1", "macro_f1": 0.8, "placement": {"gpu_ids": ["0"]}}
    monkeypatch.setattr(actors, "wait_logged", lambda ref, what, needs: report)
    return FakeRemote.calls


def _coordinator(cfg, out: Path, monkeypatch, champion: str | None):
    ran = []

    class FakeCampaign:
        def __init__(self, cfg, out, **kwargs) -> None:
            self.cfg = cfg.model_copy(update={"seed": 99})  # what Campaign trains with (e.g. canonicalize)
            self.registry = SimpleNamespace(get_alias=lambda alias: champion)

        def run(self, rounds):
            ran.append(rounds)
            return {"rounds": []}

    monkeypatch.setattr(actors, "Campaign", FakeCampaign)
    coord = actors.CoordinatorActor.__new__(actors.CoordinatorActor)  # __init__ would set torch threads
    coord.cfg, coord.out, coord.defender, coord.attacker, coord.progress = cfg, out, None, None, False
    coord._board, coord._running, coord._error, coord._published = None, False, None, set()
    return coord, ran


def test_cuda_baseline_trains_in_a_task_with_the_trainer_share(tmp_path, monkeypatch, fake_ray):
    cfg = load_config(None, ["train.device=cuda"])
    coord, ran = _coordinator(cfg, tmp_path, monkeypatch, champion=None)
    assert coord.run(2) == {"rounds": []} and ran == [2]
    (call,) = fake_ray
    assert call["fn"] is actors.train_baseline_task and call["deco"] == {"max_calls": 1}
    assert call["opts"] == {"num_cpus": cfg.ray.trainer_cpus, "num_gpus": 0.5, "max_retries": 1}
    assert call["args"][0].seed == 99 and call["args"][1] == str(tmp_path)  # the campaign's own config


@pytest.mark.parametrize(("device", "champion"), [("cpu", None), ("auto", None), ("cuda", "3")])
def test_no_task_on_cpu_or_when_the_champion_exists(tmp_path, monkeypatch, fake_ray, device, champion):
    cfg = load_config(None, [f"train.device={device}"])
    coord, ran = _coordinator(cfg, tmp_path, monkeypatch, champion=champion)
    coord.run(1)
    assert ran == [1] and fake_ray == []
