"""Atomic file writes and advisory locks shared by every part of berth.

A managed file is never opened for writing in place: the new content goes to a
temporary file in the same directory, then is renamed over the old one, so a
reader (or a crash) sees the old file or the new one, never half. ``durable``
adds the fsyncs (file, then directory) that make the new content survive a
power cut; state that is rewritten anyway after a reboot can skip them.
"""
import contextlib
import fcntl
import os


def atomic_write(path, data, mode=0o644, owner=None, durable=True):
    """Replace ``path`` with ``data`` (bytes or str) atomically.

    ``owner`` is an optional ``(uid, gid)`` pair applied before the rename. The
    temporary name is made unique with O_EXCL (no tempfile: it imports random
    and shutil, which a container start would pay for).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    while True:
        tmp = os.path.join(directory, ".%s.%d.%s.tmp" % (os.path.basename(path)[:100], os.getpid(),
                                                          os.urandom(4).hex()))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
            break
        except FileExistsError:
            continue
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)  # the umask may have narrowed it
        if owner is not None:
            os.chown(tmp, owner[0], owner[1])
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
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
