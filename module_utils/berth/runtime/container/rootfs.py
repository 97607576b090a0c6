"""Root filesystem of a container: overlay over the image's layers, or a copy (vfs).

The image's layer directories are lower layers, never written. Each container
gets its own ``upper`` and ``work`` dirs, so two containers of one image share
every lower layer. The mount itself happens inside the container's mount
namespace (see init.py), so it vanishes with the container and never leaks
onto the host.

Long layer chains: mount(2) data is limited to one page. When the absolute
lowerdir list would not fit, the layers are reached through short symlinks in
``<root>/l/`` and the mount is done with that directory as cwd and relative
names (Docker's overlay2 trick).
"""
import errno
import os
import posixpath
import shutil
import stat

from .errors import ContainerError

PAGE_LIMIT = 4000  # mount data must fit a page (4096) with room for the NUL


def overlay_supported():
    try:
        with open("/proc/filesystems") as handle:
            return any(line.split()[-1] == "overlay" for line in handle if line.strip())
    except OSError:
        return False


def filesystem_type(path):
    """The fs type of the mount holding ``path`` (longest matching mountpoint)."""
    path = os.path.realpath(path)
    best, kind = "", ""
    with open("/proc/self/mounts") as handle:
        for line in handle:
            fields = line.split()
            mountpoint = fields[1].replace("\\040", " ")
            if (path == mountpoint or path.startswith(mountpoint.rstrip("/") + "/")) \
                    and len(mountpoint) >= len(best):
                best, kind = mountpoint, fields[2]
    return kind


def choose_driver(store_root, requested=None):
    """('overlay2'|'vfs', reason). Overlay cannot take an upper dir on overlay or tmpfs-less fs."""
    if requested == "vfs":
        return "vfs", "requested"
    if not overlay_supported():
        return "vfs", "the kernel has no overlay filesystem"
    if filesystem_type(store_root) in ("overlay", "aufs"):
        return "vfs", "the store root %s is itself on overlay" % store_root
    return "overlay2", ""


def short_link_name(path):
    import hashlib
    return hashlib.sha256(os.fsencode(path)).hexdigest()[:12]


def overlay_options(lowers_lowest_first, upper, work, links_dir=None):
    """(mount data, cwd or None). Overlay's leftmost lowerdir is the TOP layer, hence reversed."""
    top_first = list(reversed(lowers_lowest_first))
    data = "lowerdir=%s,upperdir=%s,workdir=%s" % (":".join(top_first), upper, work)
    if len(data) <= PAGE_LIMIT or links_dir is None:
        if len(data) > PAGE_LIMIT:
            raise ContainerError("the image has too many layers for one overlay mount")
        return data, None
    names = []
    os.makedirs(links_dir, exist_ok=True)
    for layer in top_first:
        name = short_link_name(layer)
        link = os.path.join(links_dir, name)
        try:
            os.symlink(layer, link)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
        names.append(name)
    data = "lowerdir=%s,upperdir=%s,workdir=%s" % (":".join(names), upper, work)
    if len(data) > PAGE_LIMIT:
        raise ContainerError("the image has too many layers for one overlay mount")
    return data, links_dir


def _is_whiteout(st):
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def copy_layers(lowers_lowest_first, destination):
    """vfs driver: apply each layer in order, honouring overlay whiteouts and opaque dirs."""
    os.makedirs(destination, exist_ok=True)
    for layer in lowers_lowest_first:
        for dirpath, dirnames, filenames in os.walk(layer):
            relative = os.path.relpath(dirpath, layer)
            target_dir = os.path.normpath(os.path.join(destination, relative))
            if relative != "." and _opaque(dirpath) and os.path.isdir(target_dir):
                shutil.rmtree(target_dir)
            if not os.path.lexists(target_dir):
                os.makedirs(target_dir)
                shutil.copystat(dirpath, target_dir, follow_symlinks=False)
            for name in list(dirnames) + filenames:
                source = os.path.join(dirpath, name)
                target = os.path.join(target_dir, name)
                st = os.lstat(source)
                if _is_whiteout(st):
                    _remove(target)
                    continue
                if stat.S_ISDIR(st.st_mode) and not os.path.islink(source):
                    if os.path.lexists(target) and not os.path.isdir(target):
                        _remove(target)
                    continue
                _remove(target)
                if stat.S_ISLNK(st.st_mode):
                    os.symlink(os.readlink(source), target)
                elif stat.S_ISREG(st.st_mode):
                    shutil.copy2(source, target, follow_symlinks=False)
                else:
                    os.mknod(target, st.st_mode, st.st_rdev)
                os.lchown(target, st.st_uid, st.st_gid)


def _opaque(path):
    for attribute in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(path, attribute, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _remove(path):
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def secure_join(root, unsafe_path):
    """Resolve ``unsafe_path`` as if ``root`` were '/', following symlinks inside root only.

    '..' and absolute symlink targets are evaluated against root, so the result
    can never lie outside it (the approach of filepath-securejoin).
    """
    root = os.path.abspath(root)
    pending = [p for p in unsafe_path.split("/") if p]
    resolved = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *(resolved + [part]))
        try:
            st = os.lstat(candidate)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 255:
                raise ContainerError("too many symlinks resolving %s" % unsafe_path)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        resolved.append(part)
    return os.path.join(root, *resolved) if resolved else root


def inside(root, path):
    root = os.path.abspath(root)
    path = os.path.abspath(path)
    return path == root or path.startswith(root.rstrip("/") + "/")


def check_special_dirs(rootfs):
    """Refuse an image whose /proc, /sys or /dev is a symlink (CVE-2019-19921 class)."""
    for name in ("proc", "sys", "dev"):
        path = os.path.join(rootfs, name)
        if os.path.islink(path):
            raise ContainerError(
                "refusing to run: /%s in the image is a symlink (to %s); a container's /%s must be a "
                "directory" % (name, os.readlink(path), name))
        if os.path.lexists(path) and not os.path.isdir(path):
            raise ContainerError("refusing to run: /%s in the image is not a directory" % name)


def normalise_destination(path):
    return posixpath.normpath("/" + path)
