"""Fetching weights: URLs into torch hub's cache, Hugging Face hub repositories.

``download(url)`` keeps files under the ecosystem's folder (``$TORCH_HOME/hub/checkpoints``,
as ``torch.hub`` and timm), one sub-folder per URL, writes them atomically (a temporary
file renamed into place), checks a sha256 where one is known, refuses HTML pages,
truncated transfers, transfers larger than the free disk or slower than a deadline
before anything lands in the cache, and reuses a cached file, checked the same way,
without touching the network.
``hf_snapshot("org/name")`` finds a Hugging Face repository in the HF cache, or downloads
it with ``huggingface_hub`` when that is installed.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import torch.hub
from tqdm import tqdm

log = logging.getLogger(__name__)

CHUNK = 1 << 20
HF_FILES = ("config.json", "preprocessor_config.json", "*.safetensors", "pytorch_model.bin")


class DownloadError(OSError):
    """Weights that could not be fetched or do not check out; the message says what to do."""


def cache_dir() -> Path:
    """Where downloaded checkpoints live: ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _file_name(url: str) -> str:
    name = unquote(urlparse(url).path).rsplit("/", 1)[-1]
    if not name or name in (".", "..") or "\x00" in name:
        raise ValueError(f"{url}: the URL names no file (its path must end in a file name)")
    return name


def cached_path(url: str) -> Path:
    """The cache file of a URL: ``<cache>/<16 hex digits of the URL's sha256>/<its file
    name>``, so that two URLs ending in the same name (every HF ``.../resolve/main/
    model.safetensors``) never share a file, and the name stays readable."""
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    return cache_dir() / key / _file_name(url)


def legacy_cached_path(url: str) -> Path:
    """Where torch.hub (and videoformer before the cache was keyed by URL) keeps it: the
    file name alone. Used only for weights whose sha256 is published, after checking it."""
    return cache_dir() / _file_name(url)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_hash(actual: str, expected: str, what: str) -> None:
    """``expected`` is a full hex digest or its first characters (OpenMMLab file names)."""
    if expected and not actual.startswith(expected.lower()):
        raise DownloadError(f"{what}: sha256 {actual} does not match the published {expected}")


def _check_start(head: bytes, what: str) -> None:
    """Refuse what cannot be a checkpoint: an HTML or XML page, or an unknown format."""
    stripped = head.lstrip()
    if stripped[:1] == b"<":
        raise DownloadError(
            f"{what} is a web page, not a checkpoint (a login or error page? a Dropbox link "
            "needs ?dl=1)"
        )
    zip_file, pickle = head[:4] == b"PK\x03\x04", head[:1] == b"\x80"
    safetensors = len(head) > 8 and head[8:9] == b"{"
    if not (zip_file or pickle or safetensors):
        raise DownloadError(f"{what} is not a checkpoint (not a torch.save or safetensors file)")


def check_complete(path: Path, what: str) -> None:
    """A file whose format says how long it is must be that long: a torch.save zip needs
    its end-of-archive record, a safetensors file the bytes its header promises. (A
    legacy pickle has no such record: its transfer length is all there is to check.)"""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if head[:4] == b"PK\x03\x04" and not zipfile.is_zipfile(path):
            raise DownloadError(f"{what} is cut short: a zip archive without its end")
        if len(head) == 8 and head[:4] != b"PK\x03\x04" and head[:1] != b"\x80":
            header = int.from_bytes(head, "little")
            if header > size - 8:
                raise DownloadError(f"{what} is cut short: its safetensors header is not all there")
            try:
                meta = json.loads(f.read(header))
                end = max(
                    (v["data_offsets"][1] for k, v in meta.items() if k != "__metadata__"),
                    default=0,
                )
            except (ValueError, KeyError, TypeError, IndexError):
                raise DownloadError(f"{what} has a malformed safetensors header") from None
            if 8 + header + end != size:
                raise DownloadError(
                    f"{what} is cut short or padded: {size} bytes, its header describes "
                    f"{8 + header + end}"
                )


def _check_cached(path: Path, url: str, sha256: str) -> None:
    """The checks of a fresh download, on a cache hit: the file names itself and the fix."""
    what = f"the cached {path} (of {url})"
    fix = f"; delete it (rm {path}) to download again, or put the right file there"
    try:
        if path.stat().st_size == 0:
            raise DownloadError(f"{what} is empty")
        with open(path, "rb") as f:
            _check_start(f.read(64), what)
        check_complete(path, what)
        _check_hash(sha256_of(path), sha256, what)
    except DownloadError as e:
        raise DownloadError(f"{e}{fix}") from None


def download_deadline() -> float:
    """Seconds a whole transfer may take (``VIDEOFORMER_DOWNLOAD_DEADLINE``, default 2 h):
    a server that sends a byte now and then is given up on, not waited on for days."""
    return float(os.environ.get("VIDEOFORMER_DOWNLOAD_DEADLINE", 7200))


def download(url: str, sha256: str = "", progress: bool = True) -> Path:
    """A local file for ``url`` (``http(s)://`` into the cache, ``file://`` in place). A
    cached file is checked as a fresh download is (not a web page, not empty or cut
    short, its sha256 when published) before it is used."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path} (from {url})")
        if sha256:
            _check_hash(sha256_of(path), sha256, str(path))
        return path
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"{url}: only http(s):// and file:// URLs are fetched")
    dest = cached_path(url)
    if dest.is_file():
        _check_cached(dest, url, sha256)
        return dest
    legacy = legacy_cached_path(url)
    if sha256 and legacy.is_file():
        _check_cached(legacy, url, sha256)
        return legacy
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        digest, received, total = _fetch(url, tmp, progress)
        if total is not None and received != total:
            raise DownloadError(f"{url}: the transfer stopped after {received} of {total} bytes")
        check_complete(tmp, url)
        _check_hash(digest, sha256, url)
        os.replace(tmp, dest)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"{url} answered HTTP {e.code} ({e.reason})") from e
    except http.client.IncompleteRead as e:
        raise DownloadError(f"{url}: the transfer stopped early ({len(e.partial)} bytes)") from e
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"cannot reach {url} ({reason}); download it by hand and put it at {dest}: it is "
            "picked up from there"
        ) from e
    finally:
        tmp.unlink(missing_ok=True)
    log.info("downloaded %s to %s", url, dest)
    return dest


def _check_room(url: str, total: int | None, folder: Path) -> None:
    if total is None:
        return
    free = shutil.disk_usage(folder).free
    if total > free:
        raise DownloadError(
            f"{url} is {total / 2**30:.1f} GiB and {folder} has {free / 2**30:.1f} GiB free"
        )


def _fetch(url: str, tmp: Path, progress: bool) -> tuple[str, int, int | None]:
    """Stream ``url`` into ``tmp``: (sha256, bytes received, Content-Length or None)."""
    request = urllib.request.Request(url, headers={"User-Agent": "videoformer"})
    deadline = time.monotonic() + download_deadline()
    with urllib.request.urlopen(request, timeout=60) as response:
        if "text/html" in response.headers.get("Content-Type", ""):
            raise DownloadError(f"{url} answered with a web page, not a checkpoint")
        total = int(response.headers.get("Content-Length") or 0) or None
        _check_room(url, total, tmp.parent)
        digest, received, head = hashlib.sha256(), 0, b""
        with (
            open(tmp, "wb") as f,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=tmp.name[1:],
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            while chunk := response.read1(CHUNK):  # what has come: a slow server is noticed
                if len(head) < 16:
                    head += chunk
                    if len(head) >= 16:
                        _check_start(head, url)
                f.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
                if total is not None and received > total:
                    raise DownloadError(f"{url} sent more than the {total} bytes it announced")
                if time.monotonic() > deadline:
                    raise DownloadError(
                        f"{url}: {received} bytes after {download_deadline():.0f} s, the "
                        "deadline (VIDEOFORMER_DOWNLOAD_DEADLINE); try again later or "
                        "download it by hand"
                    )
            f.flush()
            os.fsync(f.fileno())
    if not received:
        raise DownloadError(f"{url} answered with an empty file")
    if len(head) < 16:
        _check_start(head, url)
    return digest.hexdigest(), received, total


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    return Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"


def hf_snapshot(repo_id: str, revision: str = "main") -> Path:
    """A local snapshot folder of a Hugging Face model repository: the HF cache's copy when
    it has one, else a download with ``huggingface_hub`` (an optional dependency)."""
    folder = hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    ref = folder / "refs" / revision
    if ref.is_file() and (folder / "snapshots" / ref.read_text().strip()).is_dir():
        return folder / "snapshots" / ref.read_text().strip()
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise DownloadError(
            f"{repo_id!r} looks like a Hugging Face hub id, but it is not in the HF cache "
            f"({folder}) and huggingface_hub is not installed (pip install huggingface_hub)"
        ) from None
    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=list(HF_FILES)))
    except Exception as e:  # offline, unknown repository, gated...
        raise DownloadError(f"cannot fetch {repo_id!r} from the Hugging Face hub ({e})") from e
