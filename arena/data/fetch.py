"""Download the files of a built-in dataset into the user cache, checking every SHA-256.

Cache folder: ``cache_dir`` argument, else ``$ARENA_CACHE_DIR``, else
``$XDG_CACHE_HOME/content-arena``, else ``~/.cache/content-arena``; files land in
``<cache>/<dataset>/<file>``. A file already there with the right digest is not fetched again.

Source: the pinned upstream URL, unless a mirror is given (``mirror`` argument, else
``$ARENA_DATA_MIRROR``): a local folder or an ``http(s)://`` URL laid out as
``<mirror>/<dataset>/<file>``. Each download goes to a temporary file next to its target and is
renamed into place only once its digest matches, so the cache never holds a partial or wrong file.
HTTP uses only ``urllib`` from the standard library.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import BinaryIO

from arena.data.specs import DATASETS, DatasetSpec, FileSpec
from arena.errors import DataError

log = logging.getLogger(__name__)

CACHE_ENV = "ARENA_CACHE_DIR"
MIRROR_ENV = "ARENA_DATA_MIRROR"
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """The cache root: ``$ARENA_CACHE_DIR``, ``$XDG_CACHE_HOME/content-arena`` or ``~/.cache/content-arena``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "content-arena"


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` called ``name``; :class:`DataError` listing the known names otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}") from None


def dataset_dir(name: str, cache_dir: str | Path | None = None) -> Path:
    """Where ``name`` is (or would be) cached: ``<cache>/<name>``."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / get_spec(name).name


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_cached(name: str, *, cache_dir: str | Path | None = None) -> bool:
    """Whether every file of ``name`` is in the cache with the right digest."""
    folder = dataset_dir(name, cache_dir)
    return all(_is_valid(folder / f.name, f) for f in get_spec(name).files)


def _is_valid(path: Path, file: FileSpec) -> bool:
    return path.is_file() and sha256_file(path) == file.sha256


def resolve_mirror(mirror: str | Path | None = None) -> str | Path | None:
    """The mirror to use: ``mirror``, else ``$ARENA_DATA_MIRROR``, else None (upstream).

    Returns an ``http(s)://`` URL (str) or an existing folder (Path); raises :class:`DataError`
    for another URL scheme or a folder that does not exist.
    """
    if mirror is None or mirror == "":
        mirror = os.environ.get(MIRROR_ENV) or None
        origin = f"${MIRROR_ENV}"
    else:
        origin = "mirror="
    if mirror is None:
        return None
    text = str(mirror)
    scheme = urllib.parse.urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("http", "https"):
        return text.rstrip("/")
    if scheme == "file":
        mirror = Path(urllib.request.url2pathname(urllib.parse.urlsplit(text).path))
    elif scheme:
        raise DataError(f"{origin} {text!r}: unsupported scheme {scheme!r}; use a folder or an http(s) URL")
    folder = Path(mirror).expanduser()
    if not folder.is_dir():
        raise DataError(f"{origin} {text!r}: the mirror folder does not exist")
    return folder


def _source(spec: DatasetSpec, file: FileSpec, mirror: str | Path | None) -> str | Path:
    """URL or local path to read ``file`` from."""
    if isinstance(mirror, Path):
        return mirror / spec.name / file.name
    if isinstance(mirror, str):
        return f"{mirror}/{spec.name}/{urllib.parse.quote(file.name)}"
    if spec.upstream is None:
        raise DataError(
            f"{spec.name} has no public upstream (it is a re-split sample), so it can only come from "
            f"a mirror: set {MIRROR_ENV} to a folder or http(s) URL holding {spec.name}/<file>, "
            "or load your own Kaggle files with arena.data.load_jigsaw(folder) or load_table(path, ...)"
        )
    return spec.upstream.file_url(file.name)


def _stream(src: BinaryIO, out: BinaryIO, total: int | None, desc: str, progress: bool) -> str:
    """Copy ``src`` to ``out`` with a progress bar; return the hex SHA-256 of what was copied."""
    from arena.progress import progress as progress_bar

    digest = hashlib.sha256()
    with progress_bar(
        total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, disable=not progress
    ) as bar:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _copy_from(source: str | Path, out: BinaryIO, desc: str, progress: bool, timeout: float) -> str:
    """Write ``source`` (URL or path) into ``out``; return its SHA-256. Errors -> DataError."""
    if isinstance(source, Path):
        if not source.is_file():
            raise DataError(f"{source}: not found in the mirror (expected layout <mirror>/<dataset>/<file>)")
        with open(source, "rb") as src:
            return _stream(src, out, source.stat().st_size, desc, progress)
    from arena import __version__

    request = urllib.request.Request(source, headers={"User-Agent": f"content-arena/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _stream(response, out, response.length, desc, progress)
    except urllib.error.HTTPError as exc:
        raise DataError(f"cannot fetch {source}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"cannot fetch {source}: {reason}") from exc


def _download(
    spec: DatasetSpec, file: FileSpec, source: str | Path, target: Path, *, progress: bool, timeout: float
) -> None:
    """Fetch one file to a temp file beside ``target``; rename it into place if its digest matches."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            actual = _copy_from(source, out, f"{spec.name}/{file.name}", progress, timeout)
        if actual != file.sha256:
            raise DataError(
                f"{spec.name}/{file.name}: SHA-256 mismatch (expected {file.sha256}, got {actual}) "
                f"from {source}; the download was discarded"
            )
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def fetch_dataset(
    name: str,
    *,
    cache_dir: str | Path | None = None,
    mirror: str | Path | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Make sure every file of dataset ``name`` is in the cache, verified; return its folder.

    Args:
        name: a key of :data:`~arena.data.specs.DATASETS`.
        cache_dir: cache root (default :func:`default_cache_dir`).
        mirror: folder or http(s) URL used instead of upstream (default ``$ARENA_DATA_MIRROR``).
        progress: report each download on stderr (a bar on a terminal, lines in a log; see :mod:`arena.progress`).
        timeout: seconds to wait on a network connection or read.

    Raises :class:`DataError` for an unknown name, a network error (naming the URL), a file
    missing from the mirror, or a digest mismatch (naming file, expected and actual digest, and
    source). Nothing partial is left in the cache.
    """
    spec = get_spec(name)
    folder = dataset_dir(name, cache_dir)
    source_mirror: str | Path | None = None
    resolved = False
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the cache folder {folder}: {exc}") from exc
    for file in spec.files:
        target = folder / file.name
        if _is_valid(target, file):
            continue
        if target.exists():
            log.warning("%s: wrong SHA-256 in the cache, fetching it again", target)
        if not resolved:  # only when something must be fetched: a full cache needs no mirror
            source_mirror, resolved = resolve_mirror(mirror), True
        source = _source(spec, file, source_mirror)
        log.info("fetching %s -> %s", source, target)
        _download(spec, file, source, target, progress=progress, timeout=timeout)
    return folder
