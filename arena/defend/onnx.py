"""ONNX Runtime scoring for a merged defender on CPU (the Serve defender's ``runtime: onnx``).

    d = Defender.load(path, device="cpu").use_onnx(cache_dir)   # d.score() now runs in onnxruntime

Why: on a 2-core CPU the torch forward of all-MiniLM-L6 pays Python and dispatch overhead per
layer, which dominates small batches. The same graph in ONNX Runtime scores the champion at 67-70
texts/s with 2 threads for texts arriving 1, 8 or 32 at a time (torch: 37 / 54 / 64), with the same
labels on the whole TweetEval offensive test split (max |score difference| 5.5e-7); measured by
bench/inference.py (its ``*_arrivals*`` rows).

The export (torch's TorchScript-based exporter, input_ids + attention_mask -> logits, dynamic batch
and sequence axes) is written once per model folder to ``cache_dir/defender.onnx`` with a
``defender.onnx.json`` fingerprint of the merged weights, so a changed model is exported again.
Every session is checked against torch on probe texts before it is used; a mismatch is an error,
never a silent change of scores.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from arena.errors import ModelError

#: Texts of different lengths (and one batch with padding) on which torch and ONNX must agree.
PROBES = ("you are an idiot", "have a lovely day, see you at the match tomorrow with the whole family",
          "ok", "what a stupid pathetic excuse of a referee, go home")
MAX_PROBE_DIFF = 1e-4  # P(toxic); fp32 export and runtime agree to ~1e-6


def _fingerprint(defender) -> str:
    """A hash of the model's weights and the export's shape: a different model gets a new export."""
    import torch

    h = hashlib.sha256()
    h.update(json.dumps({"base": defender.spec.base_model, "max_length": defender.spec.max_length,
                         "pooling": defender.spec.pooling, "torch": torch.__version__}).encode())
    for name, tensor in defender.model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().to(torch.float32).contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def export(defender, path: Path) -> None:
    """Write the defender's merged model as ONNX (opset 17) to ``path``."""
    import torch
    from peft import PeftModel

    if isinstance(defender.model, PeftModel):
        raise ModelError("ONNX export needs a merged model: load the defender with merge=True")
    if defender.device != "cpu":
        raise ModelError(f"ONNX scoring runs on CPU; this defender is on {defender.device}")

    class _Logits(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    example = defender.tokenizer(list(PROBES[:2]), padding=True, return_tensors="pt")
    model = defender.model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notices
            torch.onnx.export(_Logits(model), (example["input_ids"], example["attention_mask"]), str(tmp),
                              input_names=["input_ids", "attention_mask"], output_names=["logits"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                            "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch"}},
                              opset_version=17, dynamo=False)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
    except Exception as exc:
        raise ModelError(f"ONNX export of the defender failed: {exc!r}") from exc
    finally:
        tmp.unlink(missing_ok=True)


class OnnxScorer:
    """``score(token_id_lists) -> P(toxic)`` through an onnxruntime session on CPU."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a base dependency
            raise ModelError("runtime 'onnx' needs the onnxruntime package (pip install onnxruntime)") from exc
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads or 1))
        opts.inter_op_num_threads = 1
        # Serve replicas share the cores with the proxy and the ingress: idle threads sleep, not spin.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = Path(path)
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"{self.path}: onnxruntime cannot load it: {exc}") from exc

    def logits(self, ids: Sequence[Sequence[int]]):
        import numpy as np

        width = max((len(x) for x in ids), default=0)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, x in enumerate(ids):
            input_ids[row, : len(x)] = x
            mask[row, : len(x)] = 1
        return self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": mask})[0]

    def score(self, ids: Sequence[Sequence[int]]) -> list[float]:
        import numpy as np

        if not ids:
            return []
        z = self.logits(ids).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e[:, 1] / e.sum(axis=1)).tolist()

    @classmethod
    def for_defender(cls, defender, cache_dir: str | os.PathLike, threads: int | None = None) -> OnnxScorer:
        """Export (or reuse) the defender's ONNX file in ``cache_dir`` and check it against torch."""
        cache = Path(cache_dir)
        path, meta = cache / "defender.onnx", cache / "defender.onnx.json"
        fingerprint = _fingerprint(defender)
        known: dict[str, Any] = {}
        if meta.is_file():
            try:
                known = json.loads(meta.read_text())
            except json.JSONDecodeError:
                known = {}
        if not path.is_file() or known.get("fingerprint") != fingerprint:
            export(defender, path)
            tmp = meta.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps({"fingerprint": fingerprint, "opset": 17}, indent=2))
            os.replace(tmp, meta)
        scorer = cls(path, threads=threads)
        scorer.check(defender)
        return scorer

    def check(self, defender) -> float:
        """Max |P(toxic) difference| from torch on ``PROBES`` (one padded batch); raises above ``MAX_PROBE_DIFF``."""
        if defender._onnx is not None:
            raise ModelError("check() compares with torch: call it before attaching the scorer")
        texts = defender.prepare(list(PROBES))
        enc = defender.tokenizer(texts, truncation=True, max_length=defender.spec.max_length)
        reference = defender.score(list(PROBES), batch_size=len(PROBES))
        got = self.score(enc["input_ids"])
        diff = max(abs(a - b) for a, b in zip(reference, got, strict=True))
        if diff > MAX_PROBE_DIFF:
            raise ModelError(f"{self.path}: ONNX scores differ from torch by {diff:.2e} on probe texts "
                             f"(limit {MAX_PROBE_DIFF:g}); delete the file to export again, or serve with runtime: torch")
        return diff
