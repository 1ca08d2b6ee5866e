"""QLoRA on CUDA + bitsandbytes (marker gpu; the CPU error is tests/unit/test_qlora_cpu.py)."""

import importlib.util

import pytest

from arena.config import load_config

pytestmark = pytest.mark.gpu


def test_qlora_train_and_predict(tmp_path, cuda, unavailable):
    if importlib.util.find_spec("bitsandbytes") is None:
        unavailable('bitsandbytes is not installed: pip install "content-arena[gpu]"')
    from arena.defend import Defender, train_defender

    cfg = load_config(None, overrides=["defender.method=qlora", "train.epochs=2", "defender.lora.r=4", "train.lr=2e-3"])
    d = Defender.create(cfg.defender)
    # the fresh head stays in full precision
    head = [m for n, m in d.model.named_modules() if n.endswith("classifier.modules_to_save.default")]
    assert head and not any("4bit" in type(x).__name__ for x in head[0].modules())
    # the adapters on the 4-bit layers are peft's bitsandbytes LoRA layers, not its generic nn.Linear one
    lora = [type(m) for m in d.model.modules() if hasattr(m, "lora_A")]
    assert lora and all(t.__module__ == "peft.tuners.lora.bnb" and t.__name__ == "Linear4bit" for t in lora), lora
    texts = ["you are an idiot", "have a nice day", "shut up moron", "lovely weather"] * 16
    labels = [1, 0, 1, 0] * 16
    res = train_defender(d, texts, labels, texts[:8], labels[:8], cfg.train, progress=False)
    assert res.best_val_macro_f1 > 0.7
    d.save(tmp_path / "q")
    again = Defender.load(tmp_path / "q", device="cuda")
    s = again.score(["you are an idiot", "have a nice day"])
    assert s[0] > s[1]
