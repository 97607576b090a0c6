"""Atomic file writes and advisory locks shared by every part of berth.

A managed file is never opened for writing in place: the new content goes to a
temporary file in the same directory, is flushed to disk, then renamed over the
old one, so a reader (or a crash) sees the old file or the new one, never half.
"""
import contextlib
import fcntl
import os
import tempfile


def atomic_write(path, data, mode=0o644, owner=None):
    """Replace ``path`` with ``data`` (bytes or str) atomically.

    ``owner`` is an optional ``(uid, gid)`` pair applied before the rename.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".berth-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if owner is not None:
            os.chown(tmp, owner[0], owner[1])
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def fsync_directory(directory):
    """Persist a rename: fsync the directory that holds the renamed entry."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(lock_path, shared=False):
    """Hold an flock on ``lock_path`` (created if missing) for the block."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
