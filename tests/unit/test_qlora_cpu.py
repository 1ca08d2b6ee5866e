"""QLoRA needs CUDA + bitsandbytes; on a CPU machine asking for it is a clear error."""

import pytest

from arena.config import load_config
from arena.errors import ModelError


def test_qlora_without_cuda_is_a_clear_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    from arena.defend import Defender

    cfg = load_config(None, overrides=["defender.method=qlora"])
    with pytest.raises(ModelError, match="CUDA"):
        Defender.create(cfg.defender, device="cpu")
