"""Fine-tune a Defender: seeded, length-bucketed batches, early stopping on validation macro-F1.

    result = train_defender(defender, train_texts, train_labels, val_texts, val_labels, cfg.train, seed=13)

The best epoch's trainable weights are restored at the end, so ``defender`` is the selected model.
"""

from __future__ import annotations

import math
import numbers
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from arena.errors import ModelError
from arena.metrics import best_threshold, macro_f1


@dataclass
class TrainResult:
    best_epoch: int
    best_val_macro_f1: float
    epochs_run: int
    wall_s: float
    history: list[dict[str, float]] = field(default_factory=list)
    n_train: int = 0
    threshold: float = 0.5
    cpu_s: float = 0.0  # process CPU seconds: comparable across runs on a shared machine, unlike wall_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "best_epoch": self.best_epoch,
            "best_val_macro_f1": self.best_val_macro_f1,
            "epochs_run": self.epochs_run,
            "wall_s": self.wall_s,
            "n_train": self.n_train,
            "threshold": self.threshold,
            "cpu_s": self.cpu_s,
            "history": self.history,
        }


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def length_bucketed_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random, bucket_factor: int = 50
) -> list[list[int]]:
    """Shuffle, sort within chunks of ``bucket_factor`` batches by length, then shuffle the batches.

    Batches hold texts of similar length, so dynamic padding wastes little compute, while the
    order still changes every epoch.
    """
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = batch_size * bucket_factor
    batches: list[list[int]] = []
    for start in range(0, len(idx), chunk):
        part = sorted(idx[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def train_defender(
    defender,
    train_texts: Sequence[str],
    train_labels: Sequence[float],
    val_texts: Sequence[str],
    val_labels: Sequence[int],
    cfg,
    *,
    seed: int = 13,
    progress: bool = True,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``defender.model`` in place with AdamW + linear warmup/decay; restore the best epoch.

    ``train_labels`` are 0/1, or soft targets P(toxic) in [0, 1] (cross-entropy against the
    distribution (1 - y, y); a campaign uses them to distil the champion on replayed clean texts).

    With ``cfg.calibrate_threshold`` each epoch is judged by its val macro-F1 at the threshold that
    ``cfg.threshold_rule`` picks (:func:`arena.metrics.best_threshold`),
    and the selected epoch's threshold is written to ``defender.spec.threshold`` (saved with the
    model). Otherwise epochs are judged at the defender's current threshold, which is kept.
    """
    import torch

    from arena.progress import progress as progress_bar

    if len(train_texts) != len(train_labels) or len(val_texts) != len(val_labels):
        raise ModelError("texts and labels differ in length")
    if not train_texts:
        raise ModelError("empty training set")
    bad = sorted({y for y in train_labels if not (isinstance(y, numbers.Real) and 0.0 <= float(y) <= 1.0)}, key=str)
    if bad:
        raise ModelError(f"labels must be 0/1 (or a soft target P(toxic) in [0, 1]), got {bad[:5]}")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    seed_everything(seed)
    rng = random.Random(seed)
    model, tok = defender.model, defender.tokenizer
    device = defender.device
    defender.weights_id = None  # its weights change from here on: never served from the score cache

    texts = defender.prepare(train_texts)
    enc = tok(texts, truncation=True, max_length=defender.spec.max_length)
    lengths = [len(x) for x in enc["input_ids"]]
    labels = list(train_labels)

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ModelError("the model has no trainable parameters")
    params = [p for _, p in named]
    head_names = tuple(defender.spec.modules_to_save) or ("classifier",)
    is_head = [any(f".{h}." in f".{n}" for h in head_names) for n, _ in named]
    groups = [{"params": [p for (_, p), h in zip(named, is_head, strict=True) if not h], "lr": cfg.lr},
              {"params": [p for (_, p), h in zip(named, is_head, strict=True) if h], "lr": cfg.head_lr or 10 * cfg.lr}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(labels) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warmup = int(total * cfg.warmup_ratio)

    def lr_lambda(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)

    best_f1, best_epoch, best_state, bad_epochs = -1.0, 0, None, 0
    history: list[dict[str, float]] = []
    t0, c0 = time.perf_counter(), time.process_time()
    calibrate = bool(getattr(cfg, "calibrate_threshold", False)) and len(val_labels) > 0
    best_thr = defender.spec.threshold
    epoch = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        batches = length_bucketed_batches(lengths, cfg.batch_size, rng)
        running, seen = 0.0, 0
        bar = progress_bar(batches, desc=f"epoch {epoch}/{cfg.epochs}", disable=not progress, unit="batch", leave=False)
        for b in bar:
            batch = tok.pad({k: [enc[k][i] for i in b] for k in enc.keys()}, return_tensors="pt").to(device)
            y = torch.tensor([float(labels[i]) for i in b], device=device)  # P(toxic) targets: 0/1 or soft
            out = model(**batch)
            loss = torch.nn.functional.cross_entropy(out.logits.float(), torch.stack([1.0 - y, y], dim=1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += loss.item() * len(b)
            seen += len(b)
            bar.set_postfix(loss=f"{running / seen:.4f}")
        val_scores = defender.score(val_texts, batch_size=cfg.eval_batch_size)
        val_pred = [int(s >= defender.spec.threshold) for s in val_scores]
        f1 = macro_f1(val_labels, val_pred) if len(val_labels) else 0.0
        row = {"epoch": epoch, "train_loss": running / max(1, seen), "val_macro_f1": f1,
               "elapsed_s": time.perf_counter() - t0}
        thr = defender.spec.threshold
        if calibrate:
            thr, f1 = best_threshold(val_labels, val_scores, rule=getattr(cfg, "threshold_rule", "argmax"))
            row.update(val_threshold=thr, val_macro_f1_calibrated=f1)
        history.append(row)
        if progress:
            extra = f" (at threshold {thr:.2f}: {f1:.4f})" if calibrate else ""
            print(f"epoch {epoch}: train_loss={row['train_loss']:.4f} val_macro_f1={row['val_macro_f1']:.4f}"
                  f"{extra} ({row['elapsed_s']:.0f}s)", flush=True)
        if on_epoch:
            on_epoch(row)
        if f1 > best_f1:
            best_f1, best_epoch, bad_epochs, best_thr = f1, epoch, 0, thr
            best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        else:
            bad_epochs += 1
            if bad_epochs > cfg.patience:
                break
    if best_state is not None and best_epoch != epoch:
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in best_state:
                    p.copy_(best_state[n])
    model.eval()
    defender.spec.threshold = float(best_thr)
    return TrainResult(best_epoch, best_f1, epoch, time.perf_counter() - t0, history, len(labels),
                       float(best_thr), time.process_time() - c0)
