"""Where new tokens go: a file only its owner can read or write (mode 0600).

A token's plaintext is returned once (SPEC R-21), so each one is appended and flushed to disk
before the next is made: a crash loses at most the token being written. The file is never
world-readable, not even for a moment: it is created with mode 0600 in the ``open`` call
itself (the umask can only take bits away), and an existing file is refused unless it already
belongs to us with no group or other access.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Mapping, Set, Union

__all__ = ["TokenFile", "UnsafeTokenFile", "rotated_token_ids"]


class UnsafeTokenFile(OSError):
    """The output file exists but others could read it, or it is not a regular file of ours."""


class TokenFile:
    """Appends one JSON object a line; use as a context manager."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        # O_NOFOLLOW: a symlink planted at the path is refused rather than followed.
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.path, flags, 0o600)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            os.close(fd)
            raise UnsafeTokenFile(
                f"{self.path}: refusing to write tokens to a file that is not a regular file of "
                f"ours with mode 0600 (it has {stat.filemode(info.st_mode)})"
            )
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self.written = 0  # records written by this run

    def write(self, record: Mapping[str, Any]) -> None:
        """Appends ``record`` and makes it durable before returning."""
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.written += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "TokenFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rotated_token_ids(path: Union[str, Path]) -> Set[str]:
    """The ``old_token_id`` of every rotation already saved in ``path`` (empty when missing)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return set()
    ids = set()
    for line in lines:
        try:
            old = json.loads(line).get("old_token_id")
        except (json.JSONDecodeError, AttributeError):
            continue  # a line cut short by a crash, or not ours: it names no rotation
        if isinstance(old, str):
            ids.add(old)
    return ids
