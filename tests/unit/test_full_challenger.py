"""campaign.retrain.method=full: a LoRA champion merged into its base, every weight trained, saved as a full model."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_full_challenger_from_a_lora_champion(tmp_path: Path, repo_root: Path):
    torch = pytest.importorskip("torch")
    from arena.config import load_config
    from arena.defend import Defender
    from arena.retrain import train_challenger

    cfg = load_config(repo_root / "configs/test.yaml", ["train.device=cpu", "train.num_threads=1"])
    champion = Defender.create(cfg.defender, device="cpu", seed=1)
    champion.rules = champion.rules.merged([{"variant": "1d10t", "target": "idiot"}])
    champion_dir = champion.save(tmp_path / "champion")
    texts = ["you are an idiot", "have a nice day", "shut up moron", "lovely weather"] * 4
    labels = [1.0, 0.0, 1.0, 0.0] * 4

    def encoder_weight(defender) -> torch.Tensor:  # not a LoRA target: only a full fine-tune moves it
        name, p = next((n, p) for n, p in defender.model.named_parameters() if "intermediate.dense.weight" in n)
        return p.detach().clone()

    before = encoder_weight(Defender.load(champion_dir, device="cpu"))
    full = cfg.model_copy(deep=True)
    full.campaign.retrain.method = "full"
    folder, result, trained = train_challenger(full, champion_dir, texts, labels, texts[:4], [1, 0, 1, 0], seed=3,
                                               folder=tmp_path / "challenger", lr=1e-4)
    spec = Defender.read_spec(folder)
    assert spec.method == "full" and (folder / "model" / "model.safetensors").is_file() and not (folder / "adapter").exists()
    again = Defender.load(folder, device="cpu")
    assert not torch.allclose(encoder_weight(again), before)  # every weight trained
    assert list(again.rules.rules) == list(trained.rules.rules) and len(again.rules.rules) == 1  # the champion's rules kept
    assert again.score(["you are an idiot"])[0] == pytest.approx(trained.score(["you are an idiot"])[0], abs=1e-5)
    # the default (warm) trains the adapter only: the encoder weight stays
    folder, _, _ = train_challenger(cfg, champion_dir, texts, labels, texts[:4], [1, 0, 1, 0], seed=3,
                                    folder=tmp_path / "warm", lr=1e-4)
    assert Defender.read_spec(folder).method == "lora"
    warm = Defender.load(folder, device="cpu", merge=False)
    assert torch.allclose(encoder_weight(warm), before)
