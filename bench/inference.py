"""Defender inference on CPU: our serving path vs a naive transformers pipeline, and achieved FLOP/s.

In one process, on the same merged model, tokenizer and texts (TweetEval offensive test split):

* ``serving``       ``Defender.score(texts)``: what ``arena evaluate``, the campaign and the Serve
                    deployment call (length-sorted batches, dynamic padding, inference mode);
* ``pipeline_bs1``  ``transformers.pipeline("text-classification")`` with its default batch size
                    (one text per forward pass, as a naive user calls it);
* ``pipeline_bs32`` the same pipeline with ``batch_size=32`` (pads each batch of 32 texts in input
                    order to its longest text);
* ``onnx``          ``Defender.score`` through ONNX Runtime (``use_onnx``: the Serve defender's CPU
                    runtime), same batches as ``serving``;
* ``torch_arrivalsK`` / ``onnx_arrivalsK`` (``--arrivals``): the texts in input order, K at a time,
                    as a Serve replica meets them (one ``score`` call per K arriving texts).

The defender's default head is a mean-pooling head (a plain ``nn.Module``), so the pipeline gets a
thin ``PreTrainedModel`` around the very same encoder and classifier modules (shared weights, not
a copy); the pipeline truncates at the defender's ``max_length`` like ``score`` does. Methods are
timed round-robin (``--repeats`` times each, so load drift hits all of them alike); the best and
the median wall time are reported. Predictions are compared at the defender's threshold.

Achieved FLOP/s: the forward-pass FLOPs are counted analytically (the encoder's GEMMs:
Q/K/V/output projections, the two FFN matrices, QK^T and attention x V, plus the head) from the
batch shapes each method really ran (captured by a forward hook), cross-checked with
``torch.utils.flop_counter.FlopCounterMode``, divided by the wall time, and expressed as a fraction
of this machine's measured fp32 GEMM peak (``torch.matmul`` of two N x N matrices, best of several
runs, same thread count), measured before and after the inference runs.

    ARENA_DATA_MIRROR=/work/shared/data .venv/bin/python bench/inference.py --model runs/headline/models/baseline
    .venv/bin/python bench/inference.py --n 200 --repeats 2 --sweep 32 64   # quicker, + batch sizes

Writes bench/results/inference.json and prints one summary line.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_MODEL = "runs/headline/models/baseline"


# ----------------------------------------------------------------------------- the model
def load_defender(model: str | None, config: str):
    """The saved defender at ``model`` (merged), else a fresh, untrained one from ``config``, merged."""
    from arena.config import load_config
    from arena.defend.classifier import Defender

    if model and Path(model, "defender.json").is_file():
        return Defender.load(model, device="cpu", merge=True), model
    d = Defender.create(load_config(config).defender, device="cpu")
    return d.merge(), f"fresh Defender.create({config}) (untrained, merged)"


def pipeline_model(defender):
    """A ``PreTrainedModel`` the pipeline accepts, sharing the defender's modules (no copy)."""
    import torch
    from transformers import PreTrainedModel
    from transformers.modeling_outputs import SequenceClassifierOutput

    from arena.defend.classifier import LABELS

    model = defender.model
    if isinstance(model, PreTrainedModel):  # pooling: cls -> already a *ForSequenceClassification
        return model
    config = model.encoder.config.__class__.from_dict(model.encoder.config.to_dict())
    config.num_labels, config.id2label = 2, dict(LABELS)
    config.label2id = {v: k for k, v in LABELS.items()}

    class MeanPoolForSequenceClassification(PreTrainedModel):
        config_class = type(config)
        base_model_prefix = "encoder"

        def __init__(self, config, head) -> None:
            super().__init__(config)
            self.head = head  # the defender's _MeanPoolClassifier: encoder + dropout + classifier

        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_: Any):
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            return SequenceClassifierOutput(
                logits=self.head(input_ids, attention_mask, token_type_ids).logits
            )

    return MeanPoolForSequenceClassification(config, model).eval()


# ----------------------------------------------------------------------------- FLOPs
def forward_flops(shapes: list[tuple[int, int]], cfg) -> int:
    """GEMM FLOPs (2 per multiply-add) of the encoder + 2-label head for each (batch, length) run."""
    h, inter, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    total = 0
    for b, length in shapes:
        tokens = b * length
        per_layer = 2 * tokens * (4 * h * h + 2 * h * inter) + 2 * 2 * b * length * length * h
        total += layers * per_layer + 2 * b * h * 2
    return total


class ShapeRecorder:
    """Forward pre-hook on the encoder: the (batch, padded length) of every forward pass."""

    def __init__(self, encoder) -> None:
        self.shapes: list[tuple[int, int]] = []
        self._handle = encoder.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, _module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.shapes.append(tuple(ids.shape))

    def close(self) -> None:
        self._handle.remove()


def gemm_peak(n: int, repeats: int) -> dict[str, Any]:
    """Best fp32 ``torch.matmul`` FLOP/s of two n x n matrices over ``repeats`` runs."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        torch.matmul(a, b)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - t0)
    return {
        "n": n,
        "repeats": repeats,
        "best_s": min(times),
        "median_s": statistics.median(times),
        "gflops_best": round(2 * n**3 / min(times) / 1e9, 2),
        "gflops_median": round(2 * n**3 / statistics.median(times) / 1e9, 2),
    }


# ----------------------------------------------------------------------------- methods
def make_methods(defender, onnx_defender, texts: list[str], sweep: list[int], arrivals: list[int]) -> dict[str, Any]:
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity(hf_logging.CRITICAL)  # "MeanPoolFor... is not supported for text-classification"
    try:
        clf = pipeline(
            "text-classification", model=pipeline_model(defender), tokenizer=defender.tokenizer, device="cpu"
        )
    finally:
        hf_logging.set_verbosity(level)
    kw = {
        "top_k": None,
        "function_to_apply": "softmax",
        "truncation": True,
        "max_length": defender.spec.max_length,
    }

    def run_pipeline(batch_size: int):
        def run() -> list[float]:
            out = clf(texts, batch_size=batch_size, **kw)
            return [next(d["score"] for d in row if d["label"] == "toxic") for row in out]

        return run

    methods = {
        "serving": lambda: defender.score(texts),
        "pipeline_bs1": run_pipeline(1),
        "pipeline_bs32": run_pipeline(32),
    }
    for bs in sweep:
        methods[f"serving_bs{bs}"] = lambda bs=bs: defender.score(texts, batch_size=bs)
    methods["onnx"] = lambda: onnx_defender.score(texts)

    def arriving(model, k: int):
        return lambda: [s for i in range(0, len(texts), k) for s in model.score(texts[i : i + k])]

    for k in arrivals:
        methods[f"torch_arrivals{k}"] = arriving(defender, k)
        methods[f"onnx_arrivals{k}"] = arriving(onnx_defender, k)
    return methods


def onnx_twin(defender, threads: int):
    """The same defender scoring through ONNX Runtime (exported to a temporary folder)."""
    import copy
    import tempfile

    twin = copy.copy(defender)
    return twin.use_onnx(tempfile.mkdtemp(prefix="arena-onnx-"), threads=threads)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="saved defender folder (default: %(default)s; "
        "a fresh merged defender from --config when it does not exist)",
    )
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--n", type=int, default=None, help="first N test texts (default: all 860)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per method, round-robin")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, = cores)")
    ap.add_argument("--gemm-n", type=int, default=2048)
    ap.add_argument(
        "--sweep",
        type=int,
        nargs="*",
        default=[],
        metavar="BS",
        help="also time Defender.score(texts, batch_size=BS) for each BS (serving uses 128)",
    )
    ap.add_argument("--arrivals", type=int, nargs="*", default=[1, 8, 32], metavar="K",
                    help="also time torch and ONNX scoring K texts per call, in input order (default: 1 8 32)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "inference.json")
    args = ap.parse_args(argv)
    if args.out.is_dir() or not args.out.suffix:  # a folder (as the other benchmarks take): FOLDER/inference.json
        args.out = args.out / "inference.json"

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from arena.baseline import load_splits
    from arena.config import load_config

    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    texts = load_splits(load_config(args.config))["test"].texts[: args.n]
    defender, model_desc = load_defender(args.model, args.config)
    encoder = getattr(defender.model, "encoder", None) or defender.model.base_model
    methods = make_methods(defender, onnx_twin(defender, torch.get_num_threads()), texts, args.sweep, args.arrivals)
    peak_before = gemm_peak(args.gemm_n, 10)

    # untimed pass per method: warm-up, outputs, batch shapes (the hook is off while timing)
    scores, shapes = {}, {}
    for name, fn in methods.items():
        rec = ShapeRecorder(encoder)
        scores[name] = fn()
        rec.close()
        shapes[name] = rec.shapes
    for name in methods:  # ONNX runs the same batches as its torch twin; the hook cannot see them
        if name.startswith("onnx"):
            shapes[name] = shapes["serving" if name == "onnx" else name.replace("onnx", "torch", 1)]
    with FlopCounterMode(display=False) as fc:
        methods["serving"]()
    counted_serving = fc.get_total_flops()

    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            print(
                f"  {name}: {times[name][-1]:.2f}s (load {os.getloadavg()[0]:.2f})",
                file=sys.stderr,
                flush=True,
            )
    peak_after = gemm_peak(args.gemm_n, 10)
    peak = max(peak_before["gflops_best"], peak_after["gflops_best"]) * 1e9
    load_end = os.getloadavg()

    thr = defender.spec.threshold
    ref = scores["serving"]
    ref_pred = [s >= thr for s in ref]
    results: dict[str, Any] = {}
    for name in methods:
        best, med = min(times[name]), statistics.median(times[name])
        flops = forward_flops(shapes[name], encoder.config)
        pred = [s >= thr for s in scores[name]]
        disagree = [i for i, (a, b) in enumerate(zip(ref_pred, pred, strict=True)) if a != b]
        results[name] = {
            "wall_s_best": round(best, 3),
            "wall_s_median": round(med, 3),
            "wall_s_all": [round(t, 3) for t in times[name]],
            "texts_per_s_best": round(len(texts) / best, 1),
            "texts_per_s_median": round(len(texts) / med, 1),
            "forward_passes": len(shapes[name]),
            "padded_tokens": sum(b * n for b, n in shapes[name]),
            "forward_gflop": round(flops / 1e9, 2),
            "achieved_gflops_best": round(flops / best / 1e9, 2),
            "fraction_of_gemm_peak_best": round(flops / best / peak, 3),
            "agreement_with_serving": round(1 - len(disagree) / len(texts), 6),
            "max_abs_score_diff_vs_serving": float(
                max(abs(a - b) for a, b in zip(ref, scores[name], strict=True))
            ),
            "disagreements": [
                {"index": i, "serving": ref[i], name: scores[name][i], "text": texts[i]} for i in disagree
            ],
        }
    enc = defender.tokenizer(texts, truncation=True, max_length=defender.spec.max_length)["input_ids"]
    real_tokens = sum(len(x) for x in enc)
    s, p1, p32 = results["serving"], results["pipeline_bs1"], results["pipeline_bs32"]
    report: dict[str, Any] = {
        "benchmark": "inference",
        "command": shlex.join(
            [".venv/bin/python", "bench/inference.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "model": model_desc,
        "defender": {
            "method": defender.spec.method,
            "pooling": defender.spec.pooling,
            "max_length": defender.spec.max_length,
            "threshold": thr,
            "merged": True,
            "encoder": {
                k: getattr(encoder.config, k)
                for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
            },
            "attn_implementation": getattr(encoder.config, "_attn_implementation", None),
        },
        "texts": len(texts),
        "real_tokens": real_tokens,
        "repeats": args.repeats,
        "gemm_peak": {"before": peak_before, "after": peak_after, "gflops_used": round(peak / 1e9, 2)},
        "flop_count_check": {
            "serving_analytic_gflop": s["forward_gflop"],
            "serving_flop_counter_mode_gflop": round(counted_serving / 1e9, 2),
            "note": "the analytic count has the GEMMs incl. QK^T and attention x V; FlopCounterMode "
            "counts aten mm/addmm/bmm but not the CPU sdpa kernel, so it misses the "
            "attention products; neither counts LayerNorm, GELU, softmax, pooling",
        },
        "methods": results,
        "speedup_serving_vs_pipeline_bs1": round(p1["wall_s_best"] / s["wall_s_best"], 2),
        "speedup_serving_vs_pipeline_bs32": round(p32["wall_s_best"] / s["wall_s_best"], 2),
        "machine": machine_info(load_avg_start=[round(x, 2) for x in load_start]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(
        f"inference ({len(texts)} texts, {torch.get_num_threads()} threads, load {load_end[0]:.2f}): "
        f"serving {s['texts_per_s_best']} texts/s vs pipeline bs1 {p1['texts_per_s_best']} "
        f"({report['speedup_serving_vs_pipeline_bs1']}x) and bs32 {p32['texts_per_s_best']} "
        f"({report['speedup_serving_vs_pipeline_bs32']}x); agreement {p1['agreement_with_serving']:.4f}/"
        f"{p32['agreement_with_serving']:.4f}; serving {s['achieved_gflops_best']} GFLOP/s = "
        f"{s['fraction_of_gemm_peak_best']:.0%} of the {report['gemm_peak']['gflops_used']} GFLOP/s GEMM peak; "
        f"onnx {results['onnx']['texts_per_s_best']} texts/s"
        + "".join(f"; {k} at a time: torch {results[f'torch_arrivals{k}']['texts_per_s_best']} vs onnx "
                  f"{results[f'onnx_arrivals{k}']['texts_per_s_best']}" for k in args.arrivals)
    )
    print(f"wrote {args.out}; reproduce: ARENA_DATA_MIRROR=/work/shared/data {report['command']}")
    return report


if __name__ == "__main__":
    main()
