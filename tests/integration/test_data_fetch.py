"""Fetching datasets over HTTP (a loopback server over the data mirror) and from a folder mirror.

No outside network: the server listens on 127.0.0.1 on a free port, in a thread, for one test.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from arena.data import DATASETS, fetch_dataset, load_dataset, split_sizes
from arena.errors import DataError


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        pass


@contextlib.contextmanager
def _serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (free port) in a thread; yield its base URL; stop on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours *_proxy variables; loopback requests must not go through a proxy."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def http_mirror(mirror: Path) -> Iterator[str]:
    with _serve(mirror) as url:
        yield url


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.mark.parametrize("name", ["tweeteval_offensive", "jigsaw_sample"])
def test_fetch_over_http_via_env(http_mirror, tmp_path, monkeypatch, name):
    monkeypatch.setenv("ARENA_DATA_MIRROR", http_mirror)
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    folder = fetch_dataset(name, progress=False)
    assert folder == tmp_path / "cache" / name
    assert _digests(folder) == {f.name: f.sha256 for f in DATASETS[name].files}
    table = load_dataset(name)  # all cached now: no second download needed
    assert split_sizes(table) == DATASETS[name].sizes


def test_http_errors_name_the_url(http_mirror, tmp_path):
    with pytest.raises(
        DataError, match=rf"cannot fetch {http_mirror}/nope/olid/olid-training-v1.0.tsv: HTTP 404"
    ):
        fetch_dataset("olid", cache_dir=tmp_path, mirror=f"{http_mirror}/nope", progress=False)
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match=rf"cannot fetch http://127.0.0.1:{port}/olid/olid-training-v1.0.tsv"):
        fetch_dataset("olid", cache_dir=tmp_path, mirror=f"http://127.0.0.1:{port}", progress=False)
    assert list((tmp_path / "olid").iterdir()) == []


def test_http_checksum_mismatch_leaves_no_partial_file(mirror, tmp_path):
    served = tmp_path / "served"
    shutil.copytree(mirror / "olid", served / "olid")
    victim = served / "olid" / "testset-levela.tsv"
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes()[:-100])
    with _serve(served) as url:
        with pytest.raises(
            DataError, match=rf"testset-levela.tsv: SHA-256 mismatch .* from {url}/olid/testset-levela.tsv"
        ):
            fetch_dataset("olid", cache_dir=tmp_path / "cache", mirror=url, progress=False)
    assert sorted(p.name for p in (tmp_path / "cache" / "olid").iterdir()) == ["olid-training-v1.0.tsv"]


def test_fetch_from_folder_mirror_via_env(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_DATA_MIRROR", str(mirror))
    folder = fetch_dataset("tweeteval_hate", cache_dir=tmp_path, progress=True)
    assert _digests(folder) == {f.name: f.sha256 for f in DATASETS["tweeteval_hate"].files}
