"""Files written whole or not at all: each under a temporary name in its own folder, then
renamed into place (``os.replace``), so a failure midway (a full disk, a kill) leaves the
old files or none, never half of one; with the mode any new file gets (0644 under the usual
umask), whatever the writer gave its temporary file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """Beside ``path``, hidden, with the same suffix (writers that choose a format by the
    suffix, matplotlib's, still do)."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


def write_atomically(files: dict[Path, Callable[[Path], None]]) -> None:
    """``write(tmp)`` for each file, then all renamed into place; on any failure none is
    renamed and the temporary files are removed."""
    temporary = {Path(path): temporary_name(Path(path)) for path in files}
    try:
        for path, write in files.items():
            write(temporary[Path(path)])
            os.chmod(temporary[Path(path)], 0o666 & ~_umask())
        for path, tmp in temporary.items():
            if path.is_dir():
                raise IsADirectoryError(f"{path} is a folder; cannot write a file there")
            os.replace(tmp, path)
    finally:
        for tmp in temporary.values():
            tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
