"""Models that are not this project's, under the same attacks: a local Hugging Face classifier or a
moderation service over HTTP.

    arena eval --model hf:/models/my-toxicity-bert --toxic-label toxic --data jigsaw_sample --attack all
    arena eval --model http://127.0.0.1:8000/api/v1/moderate --data tweeteval_offensive --attack all

``hf:PATH`` is any local ``AutoModelForSequenceClassification`` folder (nothing is downloaded). Its
P(toxic) is the softmax probability of the toxic label (the sigmoid for a one-logit or multi-label
head). The toxic label is ``--toxic-label NAME|INDEX`` or, by default, the one label whose name reads
as toxic (toxic, offensive, hate, abusive, ... ; ``LABEL_1`` of a two-label head).

``http:URL`` (or a plain ``http://`` / ``https://`` URL) is a JSON moderation endpoint. By default it
speaks this project's ``POST /api/v1/moderate``: request ``{"texts": [...]}``, response ``{"scores":
[...], "threshold": t}``. Other services map with ``HttpOptions``: the request field that holds the
texts (or one text per request), a dotted path to the scores in the response (``*`` walks a list:
``results.*.category_scores.harassment`` reads OpenAI's moderation response), where the threshold
is, extra headers (an API key read from an environment variable, never from the command line).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.errors import ConfigError, ModelError

HF_PREFIX = "hf:"
HTTP_PREFIX = "http:"
TOXIC_NAMES = re.compile(r"^(toxic|toxicity|offensive|off|hate|hateful|abusive|abuse|insult|obscene|"
                         r"harassment|profanity|profane|nsfw|bad|unsafe|flagged)$", re.I)


def is_external_ref(ref: str) -> bool:
    ref = str(ref)
    return ref.startswith(HF_PREFIX) or ref.startswith(HTTP_PREFIX) or ref.startswith("https:")


@dataclass
class HttpOptions:
    """How to talk to a JSON moderation endpoint (defaults: this project's ``/api/v1/moderate``)."""

    texts_field: str = "texts"  # request field with the list of texts
    single_field: str | None = None  # instead: one text per request, in this field
    scores_path: str = "scores"  # dotted path to the score(s); "*" walks a list
    threshold_path: str | None = "threshold"  # dotted path to the service's own threshold, if it sends one
    batch_size: int = 32
    timeout_s: float = 30.0
    retries: int = 2
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"http batch size must be >= 1, got {self.batch_size}")
        if not self.timeout_s > 0:
            raise ConfigError(f"http timeout must be > 0 s, got {self.timeout_s}")
        if not self.scores_path.strip():
            raise ConfigError("http scores path is empty")


def parse_headers(items: Sequence[str] | None) -> dict[str, str]:
    """``"Name: value"`` or ``"Name: $ENV_VAR"`` (the value read from the environment) -> a dict."""
    headers: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise ConfigError(f"--http-header {item!r}: expected 'Name: value' or 'Name: $ENV_VAR'")
        value = value.strip()
        if value.startswith("$"):
            var = value[1:].strip("{}")
            if var not in os.environ:
                raise ConfigError(f"--http-header {name.strip()}: environment variable {var} is not set")
            value = os.environ[var]
        headers[name.strip()] = value
    return headers


def _walk(obj: Any, path: str, what: str, _done: tuple[str, ...] = ()) -> Any:
    """``obj`` at a dotted ``path``; ``*`` maps over a list. ModelError names the missing step."""
    cur: Any = obj
    parts = [p for p in path.split(".") if p]
    for i, part in enumerate(parts):
        here = ".".join(_done + tuple(parts[:i])) or "(the response)"
        if part == "*":
            if not isinstance(cur, list):
                raise ModelError(f"{what}: {here} is not a list, so '*' cannot walk it")
            rest = ".".join(parts[i + 1 :])
            done = _done + tuple(parts[: i + 1])
            return [_walk(x, rest, what, done) if rest else x for x in cur]
        if isinstance(cur, dict):
            if part not in cur:
                keys = ", ".join(sorted(map(str, cur))[:12]) or "none"
                raise ModelError(f"{what}: no field {part!r} in {here} (fields: {keys})")
            cur = cur[part]
        elif isinstance(cur, list) and part.lstrip("-").isdigit():
            try:
                cur = cur[int(part)]
            except IndexError as exc:
                raise ModelError(f"{what}: {here} has no item {part}") from exc
        else:
            raise ModelError(f"{what}: cannot read {part!r} from {here} ({type(cur).__name__})")
    return cur


def _as_score(x: Any, what: str) -> float:
    if isinstance(x, bool):
        return 1.0 if x else 0.0
    if isinstance(x, int | float) and x == x:
        return float(x)
    raise ModelError(f"{what}: expected a number (or true/false), got {json.dumps(x)[:60]}")


class HttpModerator:
    """``score(texts)`` through a JSON moderation endpoint (see :class:`HttpOptions`)."""

    def __init__(self, url: str, options: HttpOptions | None = None) -> None:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"http model {url!r}: expected an http:// or https:// URL")
        self.url, self.opts = url, options or HttpOptions()
        self.threshold: float | None = None  # the service's own, when it reports one
        self.requests = 0

    def _post(self, body: dict[str, Any]) -> Any:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json", **self.opts.headers}
        last: Exception | None = None
        for attempt in range(self.opts.retries + 1):
            req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.opts.timeout_s) as resp:
                    raw = resp.read()
                self.requests += 1
                try:
                    return json.loads(raw)
                except ValueError as exc:
                    raise ModelError(f"{self.url}: the response is not JSON ({raw[:80]!r})") from exc
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:200].decode("utf-8", "replace")
                if exc.code < 500 or attempt == self.opts.retries:
                    raise ModelError(f"{self.url}: HTTP {exc.code} {exc.reason}: {detail}") from exc
                last = exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = exc
                if attempt == self.opts.retries:
                    reason = getattr(exc, "reason", exc)
                    raise ModelError(f"{self.url}: cannot reach the service ({reason})") from exc
            time.sleep(0.5 * 2**attempt)
        raise ModelError(f"{self.url}: no answer ({last})")  # pragma: no cover - the loop raises first

    def _threshold_from(self, payload: Any) -> None:
        path = self.opts.threshold_path
        if self.threshold is None and path and isinstance(payload, dict) and path.split(".")[0] in payload:
            self.threshold = _as_score(_walk(payload, path, f"{self.url} threshold"), f"{self.url} threshold")

    def score(self, texts: Sequence[str], batch_size: int | None = None) -> list[float]:
        """P(toxic) per text; ``batch_size`` is ignored (``HttpOptions.batch_size`` sets the request size)."""
        out: list[float] = []
        what = f"{self.url} scores ({self.opts.scores_path})"
        if self.opts.single_field:
            for t in texts:
                payload = self._post({self.opts.single_field: t})
                self._threshold_from(payload)
                value = _walk(payload, self.opts.scores_path, what)
                if isinstance(value, list):  # a list answer to one text: its one item
                    if len(value) != 1:
                        raise ModelError(f"{what}: {len(value)} scores for one text")
                    value = value[0]
                out.append(_as_score(value, what))
            return out
        n = self.opts.batch_size
        for start in range(0, len(texts), n):
            part = list(texts[start : start + n])
            payload = self._post({self.opts.texts_field: part})
            self._threshold_from(payload)
            values = _walk(payload, self.opts.scores_path, what)
            if not isinstance(values, list) or len(values) != len(part):
                got = len(values) if isinstance(values, list) else type(values).__name__
                raise ModelError(f"{what}: expected {len(part)} scores for {len(part)} texts, got {got}")
            out += [_as_score(v, what) for v in values]
        return out


class HFClassifier:
    """P(toxic) from a local ``AutoModelForSequenceClassification`` folder."""

    def __init__(self, path: str | os.PathLike, toxic_label: str | None = None, device: str = "auto",
                 max_length: int = 256) -> None:
        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelError(f"hf:{path}: no config.json there (a local transformers model folder, "
                             "saved with save_pretrained)")
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"hf:{path}: cannot load a sequence classifier: {exc}") from exc
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.model.to(device).eval()
        self.max_length = max_length
        cfg = self.model.config
        labels = {int(k): str(v) for k, v in (cfg.id2label or {}).items()}
        self.num_labels = int(cfg.num_labels)
        self.multi_label = cfg.problem_type == "multi_label_classification" or self.num_labels == 1
        self.label_index = self._toxic_index(labels, toxic_label, str(path))
        self.label_name = labels.get(self.label_index, str(self.label_index))
        self.name = folder.name

    def _toxic_index(self, labels: dict[int, str], wanted: str | None, path: str) -> int:
        names = ", ".join(f"{i}={n}" for i, n in sorted(labels.items())) or "none"
        if self.num_labels == 1:
            return 0
        if wanted is not None:
            if wanted.lstrip("-").isdigit():
                i = int(wanted)
                if not 0 <= i < self.num_labels:
                    raise ConfigError(f"hf:{path}: toxic label index {i} out of range (labels: {names})")
                return i
            hits = [i for i, n in labels.items() if n.lower() == wanted.lower()]
            if not hits:
                raise ConfigError(f"hf:{path}: no label {wanted!r} (labels: {names})")
            return hits[0]
        hits = [i for i, n in labels.items() if TOXIC_NAMES.match(n.strip())]
        if len(hits) == 1:
            return hits[0]
        if self.num_labels == 2 and sorted(labels.values()) == ["LABEL_0", "LABEL_1"]:
            return 1
        raise ConfigError(f"hf:{path}: which label is toxic? pass --toxic-label NAME or INDEX (labels: {names})")

    def score(self, texts: Sequence[str], batch_size: int = 64) -> list[float]:
        import torch

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
        scores = [0.0] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                enc = self.tokenizer([str(texts[i]) for i in idx], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt").to(self.device)
                logits = self.model(**enc).logits.float()
                if self.multi_label:
                    p = torch.sigmoid(logits[:, self.label_index])
                else:
                    p = torch.softmax(logits, dim=-1)[:, self.label_index]
                for i, v in zip(idx, p.tolist(), strict=True):
                    scores[i] = float(v)
        return scores


def load_external(ref: str, *, toxic_label: str | None = None, threshold: float | None = None,
                  http: HttpOptions | None = None, device: str = "auto"):
    """An :class:`arena.evaluate.EvalModel` for ``hf:PATH`` or ``http:URL`` (see the module docstring)."""
    from arena.evaluate import EvalModel

    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"--threshold {threshold}: expected a value in [0, 1]")
    ref = str(ref)
    if ref.startswith(HF_PREFIX):
        path = ref[len(HF_PREFIX):]
        if not path:
            raise ConfigError("hf: needs a folder, e.g. hf:/models/my-classifier")
        clf = HFClassifier(path, toxic_label, device=device)
        thr = 0.5 if threshold is None else threshold
        return EvalModel(ref, f"hf:{clf.name} ({clf.label_name})", "external", thr, clf, path=str(Path(path)))
    url = ref[len(HTTP_PREFIX):] if ref.startswith(HTTP_PREFIX) and not ref.startswith("http://") else ref
    if toxic_label is not None:
        raise ConfigError("--toxic-label applies to hf: models; map an http service's score with --http-scores")
    mod = HttpModerator(url, http)
    mod.score(["hello"])  # fail fast (unreachable, wrong mapping) and learn the service's threshold
    thr = threshold if threshold is not None else (mod.threshold if mod.threshold is not None else 0.5)
    if not 0.0 <= thr <= 1.0:
        raise ModelError(f"{url}: the service's threshold {thr} is not in [0, 1]; pass --threshold")
    return EvalModel(ref, url, "external", thr, mod, path=url)
