"""Fetching weights: URLs into torch hub's cache, Hugging Face hub repositories.

``download(url)`` keeps files where the ecosystem does (``$TORCH_HOME/hub/checkpoints``,
as ``torch.hub`` and timm), writes them atomically (a temporary file renamed into place),
checks a sha256 where one is known, refuses HTML pages and truncated transfers before
anything lands in the cache, and reuses a cached file without touching the network.
``hf_snapshot("org/name")`` finds a Hugging Face repository in the HF cache, or downloads
it with ``huggingface_hub`` when that is installed.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
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


def cached_path(url: str) -> Path:
    """The cache file of a URL (its last path component, as torch.hub names it)."""
    name = Path(unquote(urlparse(url).path)).name
    if not name:
        raise ValueError(f"{url}: no file name in the URL")
    return cache_dir() / name


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


def _check_start(head: bytes, url: str) -> None:
    """Refuse what cannot be a checkpoint: an HTML or XML page, or an unknown format."""
    stripped = head.lstrip()
    if stripped[:1] == b"<":
        raise DownloadError(
            f"{url} answered with a web page, not a checkpoint (a login or error page?)"
        )
    zip_file, pickle = head[:4] == b"PK\x03\x04", head[:1] == b"\x80"
    safetensors = len(head) > 8 and head[8:9] == b"{"
    if not (zip_file or pickle or safetensors):
        raise DownloadError(f"{url} is not a checkpoint (not a torch.save or safetensors file)")


def download(url: str, sha256: str = "", progress: bool = True) -> Path:
    """A local file for ``url`` (``http(s)://`` into the cache, ``file://`` in place)."""
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
        if sha256:
            _check_hash(sha256_of(dest), sha256, f"cached {dest} (delete it to download again)")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        digest, received, total = _fetch(url, tmp, progress)
        if total is not None and received != total:
            raise DownloadError(f"{url}: the transfer stopped after {received} of {total} bytes")
        _check_hash(digest, sha256, url)
        os.replace(tmp, dest)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"{url} answered HTTP {e.code} ({e.reason})") from e
    except http.client.IncompleteRead as e:
        raise DownloadError(f"{url}: the transfer stopped early ({len(e.partial)} bytes)") from e
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"cannot reach {url} ({reason}); download it by hand and put it at {dest}: it is "
            "picked up from there"
        ) from e
    finally:
        tmp.unlink(missing_ok=True)
    log.info("downloaded %s to %s", url, dest)
    return dest


def _fetch(url: str, tmp: Path, progress: bool) -> tuple[str, int, int | None]:
    """Stream ``url`` into ``tmp``: (sha256, bytes received, Content-Length or None)."""
    request = urllib.request.Request(url, headers={"User-Agent": "videoformer"})
    with urllib.request.urlopen(request, timeout=60) as response:
        if "text/html" in response.headers.get("Content-Type", ""):
            raise DownloadError(f"{url} answered with a web page, not a checkpoint")
        total = int(response.headers.get("Content-Length") or 0) or None
        digest, received = hashlib.sha256(), 0
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
            while chunk := response.read(CHUNK):
                if not received:
                    _check_start(chunk, url)
                f.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            f.flush()
            os.fsync(f.fileno())
    if not received:
        raise DownloadError(f"{url} answered with an empty file")
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
