"""Safe layer unpacking into a directory an overlay mount can stack.

A layer is a tar stream (gzip, zstd or plain).  It is unpacked into its own,
freshly made, empty directory, which only this code writes while unpacking.
That lets every path be resolved in memory: the symlinks the layer itself has
created are known, so a parent path is resolved exactly as the kernel would
inside a container whose root is the layer directory (``..`` stops at the
root, an absolute symlink starts again at the root), and nothing is ever
opened through a symlink.  The last component of an entry is never followed:
whatever is there is replaced.

So ``../x`` is refused, ``/abs/x`` lands at ``<root>/abs/x``, a symlink that
points out of the root and is then written through writes inside the root, a
hardlink can only name a file already inside the root, and legitimate absolute
symlinks (``/etc/localtime -> /usr/share/zoneinfo/UTC``) are kept verbatim.

Whiteouts become what overlayfs expects of a lower directory: ``.wh.NAME`` a
0:0 character device ``NAME``, ``.wh..wh..opq`` the ``trusted.overlay.opaque``
xattr on its directory.

Python's ``tarfile`` is used only to decode single 512-byte headers; the
stream, pax records and every filesystem write are handled here.
"""
import errno
import os
import shutil
import stat
import struct
import tarfile
import zlib
from collections import deque

from .errors import UnpackError

BLOCK = 512
WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
MAX_SYMLINK_HOPS = 40

_REGULAR_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"


def detect_compression(head):
    """Name the compression of a stream from its first bytes."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    if head.startswith(_BZIP2_MAGIC):
        return "bzip2"
    if head.startswith(_XZ_MAGIC):
        return "xz"
    return "none"


def _zstd_decompressor():
    """Python 3.14's stdlib decoder, or None."""
    try:
        from compression import zstd  # Python >= 3.14
    except ImportError:
        return None
    return zstd.ZstdDecompressor()


def _zstd_command(chunks):
    """Decode zstd through the host's ``zstd`` program (a writer thread feeds its stdin)."""
    import subprocess
    import threading
    program = shutil.which("zstd")
    if program is None:
        raise UnpackError(
            "layer is zstd-compressed, and neither this Python (< 3.14) nor the host (no `zstd` "
            "program) can decode it; install zstd or re-push the image with gzip layers")
    proc = subprocess.Popen([program, "-d", "-c", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    failure = []

    def feed():
        try:
            for chunk in chunks:
                proc.stdin.write(chunk)
        except BrokenPipeError:
            pass
        except BaseException as err:  # re-raised by the reading side
            failure.append(err)
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=feed, name="berth-zstd-feed", daemon=True)
    writer.start()
    try:
        while True:
            block = proc.stdout.read(1 << 20)
            if not block:
                break
            yield block
        writer.join()
        if failure:
            raise failure[0]
        if proc.wait() != 0:
            raise UnpackError("zstd could not decode the layer: %s"
                              % proc.stderr.read().decode("utf-8", "replace").strip())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def sniff_compression(chunks):
    """``(kind, head, rest)``: the compression of a chunk stream, from its first bytes.

    ``head`` holds the bytes read to decide, ``rest`` iterates over the chunks after them.
    """
    iterator = iter(chunks)
    head = b""
    while len(head) < 6:
        chunk = next(iterator, None)
        if chunk is None:
            break
        head += bytes(chunk)
    return detect_compression(head), head, iterator


def decompressed(chunks):
    """Yield the decompressed bytes of an iterable of compressed chunks.

    The compression is detected from the first bytes.  gzip members that
    follow one another (``cat a.gz b.gz``) are decoded as one stream.
    """
    kind, head, iterator = sniff_compression(chunks)
    if kind == "none":
        if head:
            yield head
        for chunk in iterator:
            yield chunk
        return
    if kind == "gzip":
        yield from _gunzip(head, iterator)
        return
    if kind == "zstd":
        decoder = _zstd_decompressor()
        if decoder is None:
            yield from _zstd_command(_chain([head], iterator))
            return
    elif kind == "bzip2":
        import bz2
        decoder = bz2.BZ2Decompressor()
    else:
        import lzma
        decoder = lzma.LZMADecompressor()
    for chunk in _chain([head], iterator):
        out = decoder.decompress(chunk)
        if out:
            yield out


def _chain(first, rest):
    for item in first:
        yield item
    for item in rest:
        yield item


def _gunzip(head, iterator):
    decoder = zlib.decompressobj(31)
    for chunk in _chain([head], iterator):
        while chunk:
            out = decoder.decompress(chunk)
            if out:
                yield out
            if decoder.eof:
                chunk = decoder.unused_data
                if chunk:
                    decoder = zlib.decompressobj(31)
            else:
                chunk = b""
    if not decoder.eof:
        tail = decoder.flush()
        if tail:
            yield tail
        raise UnpackError("gzip stream is truncated")


class ChunkReader(object):
    """Reads exact byte counts out of an iterator of chunks (no big copies)."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._view = memoryview(b"")
        self.consumed = 0

    def _next(self):
        for chunk in self._chunks:
            if len(chunk):
                self._view = memoryview(chunk)
                return True
        return False

    def read(self, size):
        """Return exactly ``size`` bytes, or fewer only at the end of the stream."""
        view = self._view
        if len(view) >= size:
            self._view = view[size:]
            self.consumed += size
            return view[:size].tobytes()
        parts = [view.tobytes()]
        have = len(view)
        self._view = memoryview(b"")
        while have < size and self._next():
            take = min(size - have, len(self._view))
            parts.append(self._view[:take].tobytes())
            self._view = self._view[take:]
            have += take
        self.consumed += have
        return b"".join(parts)

    def copy_to(self, fd, size):
        """Write the next ``size`` bytes to ``fd``; return the count written."""
        left = size
        while left:
            if not len(self._view) and not self._next():
                break
            view = self._view
            take = min(left, len(view))
            part = view[:take]
            while len(part):
                written = os.write(fd, part)
                part = part[written:]
            self._view = view[take:]
            left -= take
        done = size - left
        self.consumed += done
        return done

    def skip(self, size):
        left = size
        while left:
            if not len(self._view) and not self._next():
                break
            take = min(left, len(self._view))
            self._view = self._view[take:]
            left -= take
        self.consumed += size - left
        return size - left

    def drain(self):
        """Consume the rest of the stream (so a digest over it is complete)."""
        self.consumed += len(self._view)
        self._view = memoryview(b"")
        for chunk in self._chunks:
            self.consumed += len(chunk)


class Entry(object):
    """One tar member with its pax overrides applied."""

    __slots__ = ("name", "type", "size", "mode", "uid", "gid", "mtime", "linkname",
                 "devmajor", "devminor", "xattrs")


def _parse_pax(data):
    records = {}
    pos = 0
    length_total = len(data)
    while pos < length_total:
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            raise UnpackError("malformed pax header record")
        if length <= 0:
            break
        record = data[space + 1:pos + length - 1]
        key, sep, value = record.partition(b"=")
        if not sep:
            raise UnpackError("malformed pax header record")
        records[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return records


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s")
_POSIX_MAGIC = b"ustar\x00"
_GNU_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.GNUTYPE_SPARSE)


class Header(object):
    __slots__ = ("name", "linkname", "size", "mode", "uid", "gid", "mtime", "type", "devmajor", "devminor")


def _number(field):
    """A numeric header field: octal text, or GNU base-256 when the high bit is set."""
    if field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] == 0xff else value
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise UnpackError("bad number %r in tar header" % field)


def _name(field):
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def parse_header(block, offset=0):
    """Decode one 512-byte ustar/GNU/pax header block (checksum verified)."""
    (name, mode, uid, gid, size, mtime, chksum, kind, linkname, magic, _version, _uname, _gname,
     devmajor, devminor, prefix) = _HEADER.unpack_from(block)
    expected = _number(chksum)
    unsigned = sum(block) - sum(block[148:156]) + 256
    if expected != unsigned:
        signed = unsigned - sum(256 for b in block[:148] + block[156:] if b > 127)
        if expected != signed:
            raise UnpackError("bad tar header checksum at offset %d" % offset)
    header = Header()
    header.type = kind if kind != b"\0" else tarfile.AREGTYPE
    header.name = _name(name)
    if magic == _POSIX_MAGIC and prefix[0] and header.type not in _GNU_TYPES:
        header.name = _name(prefix) + "/" + header.name
    if header.type in (tarfile.AREGTYPE, tarfile.REGTYPE) and header.name.endswith("/"):
        header.type = tarfile.DIRTYPE
    header.linkname = _name(linkname)
    header.size = _number(size)
    header.mode = _number(mode)
    header.uid = _number(uid)
    header.gid = _number(gid)
    header.mtime = _number(mtime)
    header.devmajor = _number(devmajor) if devmajor[0] else 0
    header.devminor = _number(devminor) if devminor[0] else 0
    return header


def iter_entries(reader):
    """Yield ``(Entry, reader)`` for each member; the caller consumes the data."""
    pax = {}
    long_name = None
    long_link = None
    while True:
        block = reader.read(BLOCK)
        if len(block) < BLOCK:
            if not block.strip(b"\0"):
                return
            raise UnpackError("tar stream is truncated")
        if block.count(b"\0") == BLOCK:
            return
        info = parse_header(block, reader.consumed - BLOCK)
        size = info.size
        if "size" in pax:
            size = int(pax["size"])
        padded = (size + BLOCK - 1) // BLOCK * BLOCK
        kind = info.type
        if kind in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE):
            data = reader.read(padded)[:info.size]
            if kind != tarfile.XGLTYPE:
                pax.update(_parse_pax(data))
            continue
        if kind == tarfile.GNUTYPE_LONGNAME:
            long_name = reader.read(padded)[:info.size].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            continue
        if kind == tarfile.GNUTYPE_LONGLINK:
            long_link = reader.read(padded)[:info.size].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            continue
        if kind == tarfile.GNUTYPE_SPARSE:
            raise UnpackError("GNU sparse files are not supported in layers (%r)" % info.name)
        entry = Entry()
        entry.name = _text(pax["path"]) if "path" in pax else (long_name or info.name)
        entry.linkname = _text(pax["linkpath"]) if "linkpath" in pax else (long_link or info.linkname)
        entry.type = kind
        entry.size = size
        entry.mode = info.mode
        entry.uid = int(pax["uid"]) if "uid" in pax else info.uid
        entry.gid = int(pax["gid"]) if "gid" in pax else info.gid
        entry.mtime = float(pax["mtime"]) if "mtime" in pax else info.mtime
        entry.devmajor = info.devmajor
        entry.devminor = info.devminor
        xattrs = {}
        for key, value in pax.items():
            if key.startswith("SCHILY.xattr."):
                xattrs[key[len("SCHILY.xattr."):]] = value
        entry.xattrs = xattrs
        pax = {}
        long_name = long_link = None
        yield entry, padded
        # The caller consumed ``entry.size`` bytes for regular files only.


def clean_name(name):
    """Normalise a member name to a relative path; refuse ones that climb out."""
    stripped = name.lstrip("/")
    if not stripped:
        return "."
    parts = []
    for part in stripped.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise UnpackError("tar entry %r escapes the layer root" % name)
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts) if parts else "."


class LayerWriter(object):
    """Applies tar entries to an empty directory, confined to it."""

    def __init__(self, root, privileged=None):
        self.root = os.path.abspath(root)
        self.privileged = os.geteuid() == 0 if privileged is None else privileged
        self.symlinks = {}
        self.dirs = {}
        self.entries = 0
        self.content_size = 0
        # The root starts empty and only this writer fills it, so what exists
        # is known without asking the kernel: relpath -> True (directory) / False.
        if os.listdir(self.root):
            raise UnpackError("refusing to unpack into %s: it is not empty" % self.root)
        self.existing = {}
        self.owner_is_root = self.privileged and os.getegid() == 0
        self.umask = _process_umask()

    # -- path resolution -------------------------------------------------
    def resolve(self, relpath):
        """Resolve every component of ``relpath`` (symlinks followed, clamped at the root)."""
        if relpath in ("", "."):
            return ""
        if not self.symlinks:
            return relpath
        resolved = []
        pending = deque(relpath.split("/"))
        hops = 0
        while pending:
            part = pending.popleft()
            if part in ("", "."):
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/".join(resolved + [part]) if resolved else part
            target = self.symlinks.get(candidate)
            if target is None:
                resolved.append(part)
                continue
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise UnpackError("too many levels of symbolic links resolving %r" % relpath)
            if target.startswith("/"):
                resolved = []
            pending.extendleft(reversed(target.split("/")))
        return "/".join(resolved)

    def _abs(self, relpath):
        return os.path.join(self.root, relpath) if relpath else self.root

    def _ensure_dir(self, relpath):
        """Create ``relpath`` (already resolved) and its parents as directories."""
        if not relpath:
            return
        is_dir = self.existing.get(relpath)
        if is_dir:
            return
        if is_dir is not None:
            raise UnpackError("cannot create %r: a parent is not a directory" % relpath)
        self._ensure_dir(relpath.rpartition("/")[0])
        os.mkdir(self._abs(relpath), 0o755)
        self.existing[relpath] = True

    def _forget(self, relpath, was_dir):
        """Drop the bookkeeping for ``relpath`` (and, for a directory, everything below it)."""
        self.existing.pop(relpath, None)
        self.symlinks.pop(relpath, None)
        self.dirs.pop(relpath, None)
        if was_dir:
            prefix = relpath + "/"
            for table in (self.existing, self.symlinks, self.dirs):
                for key in [k for k in table if k.startswith(prefix)]:
                    del table[key]

    def _clear(self, relpath, keep_dir):
        """Remove what is at ``relpath`` unless it is a directory and ``keep_dir``."""
        is_dir = self.existing.get(relpath)
        if is_dir is None:
            return False
        if is_dir:
            if keep_dir:
                return True
            shutil.rmtree(self._abs(relpath))
        else:
            os.unlink(self._abs(relpath))
        self._forget(relpath, is_dir)
        return False

    # -- entries ---------------------------------------------------------
    def apply(self, entry, reader, padded):
        """Apply one entry; consumes its data (``padded`` bytes) from ``reader``."""
        name = clean_name(entry.name)
        self.entries += 1
        if name == ".":
            if entry.type == tarfile.DIRTYPE:
                self._set_owner(self.root, entry)
                self.dirs[""] = entry
            reader.skip(padded)
            return
        parent, _, base = name.rpartition("/")
        if base.startswith(WHITEOUT_PREFIX):
            reader.skip(padded)
            self._whiteout(parent, base, entry.name)
            return
        parent = self.resolve(parent)
        self._ensure_dir(parent)
        relpath = parent + "/" + base if parent else base
        path = self._abs(relpath)
        kind = entry.type
        if kind == tarfile.DIRTYPE:
            reader.skip(padded)
            existed = self._clear(relpath, keep_dir=True)
            if not existed:
                os.mkdir(path, 0o700)
                self.existing[relpath] = True
            self._set_owner(path, entry)
            self._set_xattrs(path, entry.xattrs, follow=True)
            self.dirs[relpath] = entry
            return
        if kind in _REGULAR_TYPES:
            self._clear(relpath, keep_dir=False)
            mode = entry.mode & 0o7777
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode & 0o777)
            self.existing[relpath] = False
            try:
                if reader.copy_to(fd, entry.size) != entry.size:
                    raise UnpackError("tar stream is truncated inside %r" % entry.name)
                self.content_size += entry.size
                reader.skip(padded - entry.size)
                if self.privileged and (entry.uid or entry.gid or not self.owner_is_root):
                    os.fchown(fd, entry.uid, entry.gid)
                if mode != mode & 0o777 & ~self.umask:
                    os.fchmod(fd, mode)
                self._set_xattrs(fd, entry.xattrs, follow=True)
                os.utime(fd, ns=(int(entry.mtime * 1e9),) * 2)
            finally:
                os.close(fd)
            return
        reader.skip(padded)
        if kind == tarfile.SYMTYPE:
            self._clear(relpath, keep_dir=False)
            os.symlink(entry.linkname, path)
            self.existing[relpath] = False
            self.symlinks[relpath] = entry.linkname
            self._finish_link(path, entry)
        elif kind == tarfile.LNKTYPE:
            self._hardlink(relpath, path, entry)
        elif kind in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
            self._clear(relpath, keep_dir=False)
            if kind == tarfile.FIFOTYPE:
                os.mkfifo(path, 0o600)
            else:
                if not self.privileged:
                    raise UnpackError("device node %r in layer needs root to create" % entry.name)
                fmt = stat.S_IFCHR if kind == tarfile.CHRTYPE else stat.S_IFBLK
                os.mknod(path, fmt | 0o600, os.makedev(entry.devmajor, entry.devminor))
            self.existing[relpath] = False
            if self.privileged:
                os.lchown(path, entry.uid, entry.gid)
            os.chmod(path, entry.mode & 0o7777)
            self._set_xattrs(path, entry.xattrs, follow=False)
            os.utime(path, ns=(int(entry.mtime * 1e9),) * 2, follow_symlinks=False)
        else:
            raise UnpackError("unsupported tar entry type %r for %r" % (kind, entry.name))

    def _hardlink(self, relpath, path, entry):
        target = clean_name(entry.linkname)
        if target == ".":
            raise UnpackError("hardlink %r points at the layer root" % entry.name)
        tparent, _, tbase = target.rpartition("/")
        tparent = self.resolve(tparent)
        trel = tparent + "/" + tbase if tparent else tbase
        tpath = self._abs(trel)
        target_is_dir = self.existing.get(trel)
        if target_is_dir is None:
            raise UnpackError("hardlink %r points at %r, which is not in the layer"
                              % (entry.name, entry.linkname))
        if target_is_dir:
            raise UnpackError("hardlink %r points at a directory" % entry.name)
        if trel == relpath:
            return
        self._clear(relpath, keep_dir=False)
        os.link(tpath, path, follow_symlinks=False)
        self.existing[relpath] = False
        if trel in self.symlinks:
            self.symlinks[relpath] = self.symlinks[trel]

    def _whiteout(self, parent, base, original):
        parent = self.resolve(parent)
        if base == WHITEOUT_OPAQUE:
            self._ensure_dir(parent)
            self._setxattr(self._abs(parent), OPAQUE_XATTR, b"y", follow=True)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # AUFS bookkeeping (.wh..wh.plnk and the like): meaningless here
        hidden = base[len(WHITEOUT_PREFIX):]
        if hidden in ("", ".", "..") or "/" in hidden:
            raise UnpackError("invalid whiteout name %r: invalid layer archive" % original)
        self._ensure_dir(parent)
        relpath = parent + "/" + hidden if parent else hidden
        path = self._abs(relpath)
        if relpath in self.existing:
            return  # this layer itself provides NAME; it already hides the lower one
        if not self.privileged:
            raise UnpackError("whiteout %r needs root to create (a 0:0 character device)" % original)
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        self.existing[relpath] = False

    # -- metadata ----------------------------------------------------------
    def _set_owner(self, path, entry):
        if self.privileged and (entry.uid or entry.gid or not self.owner_is_root):
            os.lchown(path, entry.uid, entry.gid)

    def _finish_link(self, path, entry):
        self._set_owner(path, entry)
        self._set_xattrs(path, entry.xattrs, follow=False)
        try:
            os.utime(path, ns=(int(entry.mtime * 1e9),) * 2, follow_symlinks=False)
        except OSError:
            pass

    def _set_xattrs(self, target, xattrs, follow):
        for key, value in xattrs.items():
            self._setxattr(target, key, value, follow)

    def _setxattr(self, target, key, value, follow):
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogateescape")
        try:
            if isinstance(target, int):
                os.setxattr(target, key, value)
            else:
                os.setxattr(target, key, value, follow_symlinks=follow)
        except OSError as err:
            if err.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP) and not self.privileged:
                return
            if key == OPAQUE_XATTR:
                raise UnpackError("cannot mark %r opaque for overlayfs: %s" % (target, err))
            raise

    def finish(self):
        """Apply directory modes and times last (children changed the mtimes)."""
        for relpath in sorted(self.dirs, key=len, reverse=True):
            entry = self.dirs[relpath]
            path = self._abs(relpath)
            os.chmod(path, entry.mode & 0o7777)
            os.utime(path, ns=(int(entry.mtime * 1e9),) * 2)


def _process_umask():
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def unpack(chunks, root, privileged=None):
    """Unpack the uncompressed tar stream ``chunks`` into the empty directory ``root``.

    The whole stream is consumed, including the padding after the end-of-archive
    marker, so a digest computed over ``chunks`` covers every byte.  Returns the
    ``LayerWriter`` (``entries``, ``content_size``).
    """
    reader = ChunkReader(chunks)
    writer = LayerWriter(root, privileged)
    for entry, padded in iter_entries(reader):
        writer.apply(entry, reader, padded)
    reader.drain()
    writer.finish()
    return writer
