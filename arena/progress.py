"""Progress that reads well on a terminal and in a log.

On a terminal, :func:`progress` is a tqdm bar. Anywhere else (CI, ``make demo > log``, ``ray job
logs``, a Ray worker, whose stderr is a pipe) a tqdm bar writes a ``\\r`` update per step: a
10-round campaign log becomes mostly progress noise. There :func:`progress` returns a
:class:`LogProgress`, which writes one plain line when a stage starts, at most one line every
``interval`` seconds while it runs, and one line when it ends::

    epoch 1/1: 0/373 batch
    epoch 1/1: 121/373 batch (32%), 4.0 batch/s, loss=0.6137
    epoch 1/1: done, 373/373 batch in 1m33s, loss=0.5120

``ARENA_PROGRESS`` overrides the choice: ``bar`` (tqdm even in a log), ``log`` (lines even on a
terminal) or ``off``; ``ARENA_PROGRESS_INTERVAL`` sets the seconds between lines (default 15).
:func:`quiet_library_bars` turns off the bars that Hugging Face and MLflow draw themselves
(model loading, artifact downloads) when the output is not a terminal.

Only the part of tqdm's API this project uses is provided: iteration, ``update``,
``set_postfix``, ``close`` and the context manager.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

MODES = ("auto", "bar", "log", "off")
DEFAULT_INTERVAL_S = 15.0


def _mode() -> str:
    mode = os.environ.get("ARENA_PROGRESS", "auto").strip().lower() or "auto"
    if mode not in MODES:
        from arena.errors import ConfigError

        raise ConfigError(f"ARENA_PROGRESS={mode!r}: expected one of {', '.join(MODES)}")
    return mode


def _interval() -> float:
    raw = os.environ.get("ARENA_PROGRESS_INTERVAL", "")
    if not raw.strip():
        return DEFAULT_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        from arena.errors import ConfigError

        raise ConfigError(f"ARENA_PROGRESS_INTERVAL={raw!r}: expected a positive number of seconds")
    return value


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced stream
        return False


def use_bars(stream: IO[str] | None = None) -> bool:
    """True when progress should be drawn as tqdm bars (a terminal, or ``ARENA_PROGRESS=bar``)."""
    mode = _mode()
    return mode == "bar" or (mode == "auto" and is_terminal(stream))


def _fmt_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _fmt_count(n: float, unit_scale: bool, unit_divisor: int) -> str:
    if not unit_scale:
        return f"{int(n)}" if float(n).is_integer() else f"{n:.1f}"
    for prefix in ("", "k", "M", "G", "T"):
        if abs(n) < unit_divisor or prefix == "T":
            return f"{n:.0f}{prefix}" if prefix == "" else f"{n:.1f}{prefix}"
        n /= unit_divisor
    return f"{n:.1f}"  # pragma: no cover - the loop always returns


class LogProgress:
    """tqdm's interface, written as occasional plain lines (see the module docstring)."""

    def __init__(self, iterable: Iterable[Any] | None = None, *, desc: str = "", total: float | None = None,
                 unit: str = "it", unit_scale: bool = False, unit_divisor: int = 1000,
                 interval: float | None = None, file: IO[str] | None = None,
                 clock: Any = time.monotonic, **_ignored: Any) -> None:
        self.iterable = iterable
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self.total = total
        self.desc = desc or "progress"
        self.unit = unit
        self.unit_scale = unit_scale
        self.unit_divisor = unit_divisor
        self.interval = _interval() if interval is None else interval
        self.file = file
        self.clock = clock
        self.n: float = 0
        self.postfix = ""
        self.closed = False
        self.start = clock()
        self.last_line = self.start
        self._write(f"{self.desc}: {self._count()}")

    # ------------------------------------------------------------------ tqdm API
    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("LogProgress without an iterable cannot be iterated; call update() instead")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        now = self.clock()
        if now - self.last_line >= self.interval and not self.closed:
            self.last_line = now
            self._write(f"{self.desc}: {self._count()}{self._percent()}{self._rate(now)}{self._post()}")

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True,
                    **kwargs: Any) -> None:
        items = dict(ordered_dict or {}, **kwargs)
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str, refresh: bool = True) -> None:
        self.desc = desc

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        elapsed = self.clock() - self.start
        self._write(f"{self.desc}: done, {self._count()} in {_fmt_duration(elapsed)}{self._post()}")

    # ------------------------------------------------------------------ formatting
    def _count(self) -> str:
        done = _fmt_count(self.n, self.unit_scale, self.unit_divisor)
        if self.total is None:
            return f"{done} {self.unit}"
        return f"{done}/{_fmt_count(self.total, self.unit_scale, self.unit_divisor)} {self.unit}"

    def _percent(self) -> str:
        return f" ({100.0 * self.n / self.total:.0f}%)" if self.total else ""

    def _rate(self, now: float) -> str:
        elapsed = now - self.start
        if elapsed <= 0:
            return ""
        rate = self.n / elapsed
        return f", {_fmt_count(rate, self.unit_scale, self.unit_divisor)} {self.unit}/s" if self.unit_scale \
            else f", {rate:.1f} {self.unit}/s"

    def _post(self) -> str:
        return f", {self.postfix}" if self.postfix else ""

    def _write(self, line: str) -> None:
        stream = self.file if self.file is not None else sys.stderr
        print(line, file=stream, flush=True)


class _Silent:
    """``disable=True`` or ``ARENA_PROGRESS=off``: the interface, and nothing written."""

    def __init__(self, iterable: Iterable[Any] | None = None, **_ignored: Any) -> None:
        self.iterable = iterable
        self.n: float = 0

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("progress without an iterable cannot be iterated; call update() instead")
        for item in self.iterable:
            yield item
            self.n += 1

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        return None

    def set_description(self, *args: Any, **kwargs: Any) -> None:
        return None

    def close(self) -> None:
        return None


def progress(iterable: Iterable[Any] | None = None, *, desc: str = "", total: float | None = None,
             unit: str = "it", disable: bool = False, leave: bool = False, **kwargs: Any) -> Any:
    """A progress reporter over ``iterable`` (or driven by ``update``): a bar, log lines or nothing.

    Takes tqdm's keyword arguments; see the module docstring for how the form is chosen.
    """
    if disable or _mode() == "off":
        return _Silent(iterable)
    if use_bars(kwargs.get("file")):
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, **kwargs)
    return LogProgress(iterable, desc=desc, total=total, unit=unit, **kwargs)


def quiet_library_bars() -> None:
    """Off a terminal, silence the progress bars that libraries draw on their own.

    Hugging Face (model and tokenizer loading) and MLflow (artifact downloads) write tqdm bars
    of their own, which read as noise in a log. Sets their documented switches unless the user
    set them already; on a terminal (or with ``ARENA_PROGRESS=bar``) nothing changes.
    """
    if use_bars():
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # already imported: the environment was read at import time, so use their switches too
    for module, switch in (("huggingface_hub", "utils.disable_progress_bars"),
                           ("transformers", "utils.logging.disable_progress_bar")):
        if module in sys.modules:
            target: Any = sys.modules[module]
            try:
                for attr in switch.split("."):
                    target = getattr(target, attr)
                target()
            except AttributeError:  # pragma: no cover - an older or stubbed library
                pass
