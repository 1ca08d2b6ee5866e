"""Progress reporting: bars on a terminal, a few plain lines in a log (issue 14, part 4)."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from arena.errors import ConfigError
from arena.progress import LogProgress, progress, use_bars


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_progress_writes_start_a_line_per_interval_and_end():
    out, clock = io.StringIO(), FakeClock()
    bar = LogProgress(range(1000), desc="epoch 1/1", unit="batch", interval=10.0, file=out, clock=clock)
    for i in bar:
        clock.t = i * 0.1  # 100 s over the loop: about one line per 10 s
        if i == 500:
            bar.set_postfix(loss="0.6137")
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "epoch 1/1: 0/1000 batch"
    assert lines[-1].startswith("epoch 1/1: done, 1000/1000 batch in 1m40s")
    assert lines[-1].endswith("loss=0.6137")
    middle = lines[1:-1]
    assert 8 <= len(middle) <= 10  # never more than one line per interval
    assert any("(50%)" in line for line in middle)
    assert all("batch/s" in line for line in middle)


def test_log_progress_as_a_context_manager_with_update_and_byte_units():
    out, clock = io.StringIO(), FakeClock()
    with LogProgress(total=3 * 1024 * 1024, desc="olid.tsv", unit="B", unit_scale=True, unit_divisor=1024,
                     interval=1.0, file=out, clock=clock) as bar:
        for _ in range(3):
            clock.t += 2.0
            bar.update(1024 * 1024)
    lines = out.getvalue().splitlines()
    assert lines[0] == "olid.tsv: 0/3.0M B"
    assert lines[1].startswith("olid.tsv: 1.0M/3.0M B (33%), 512.0k B/s")
    assert lines[-1] == "olid.tsv: done, 3.0M/3.0M B in 6s"
    bar.close()  # closing twice writes nothing more
    assert len(out.getvalue().splitlines()) == len(lines)


def test_close_is_written_when_the_loop_breaks_early():
    out = io.StringIO()
    for i in LogProgress(range(10), desc="s", interval=1e9, file=out):
        if i == 3:
            break
    assert out.getvalue().splitlines()[-1].startswith("s: done, 3/10 it")


def test_progress_chooses_bars_on_a_terminal_and_lines_elsewhere(monkeypatch):
    monkeypatch.delenv("ARENA_PROGRESS", raising=False)
    from tqdm import tqdm

    tty = Tty()
    bar = progress(range(3), desc="x", file=tty)
    assert isinstance(bar, tqdm)
    bar.close()
    assert isinstance(progress(range(3), desc="x", file=io.StringIO()), LogProgress)
    monkeypatch.setenv("ARENA_PROGRESS", "log")
    assert isinstance(progress(range(3), desc="x", file=tty), LogProgress)
    monkeypatch.setenv("ARENA_PROGRESS", "bar")
    assert use_bars(io.StringIO())
    monkeypatch.setenv("ARENA_PROGRESS", "off")
    quiet_tty = Tty()
    silent = progress(range(3), desc="x", file=quiet_tty)
    assert list(silent) == [0, 1, 2] and not isinstance(silent, (tqdm, LogProgress))
    assert quiet_tty.getvalue() == ""


def test_disable_writes_nothing(monkeypatch):
    monkeypatch.setenv("ARENA_PROGRESS", "log")
    out = io.StringIO()
    with progress(total=5, desc="x", disable=True, file=out) as bar:
        bar.update(5)
        bar.set_postfix(loss=1)
    assert out.getvalue() == ""


@pytest.mark.parametrize(("name", "value", "needle"), [
    ("ARENA_PROGRESS", "fancy", "ARENA_PROGRESS='fancy'"),
    ("ARENA_PROGRESS_INTERVAL", "0", "ARENA_PROGRESS_INTERVAL='0'"),
    ("ARENA_PROGRESS_INTERVAL", "soon", "positive number"),
])
def test_bad_settings_name_the_variable(monkeypatch, name, value, needle):
    monkeypatch.setenv("ARENA_PROGRESS", "log")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=needle):
        progress(range(2), desc="x", file=io.StringIO())


def test_cli_rejects_a_bad_progress_setting_with_a_clear_error(tmp_path):
    env = {"ARENA_PROGRESS": "sparkly", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "arena.cli", "data", "list"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert "error: ARENA_PROGRESS='sparkly'" in done.stderr
