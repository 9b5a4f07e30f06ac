"""Atomic writes: data goes to a temporary file in the same folder, is flushed to disk and
renamed into place, so a crash leaves either the old file or the new one, never half of one."""
import os
import tempfile
from pathlib import Path

UMASK = os.umask(0)
os.umask(UMASK)


def atomic_write_bytes(path, data):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~UMASK)             # as open() would create it (mkstemp makes it private)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)                  # the rename itself reaches the disk
    finally:
        os.close(folder)


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))
