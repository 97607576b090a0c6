"""Storage probes: overlay support and d_type under the docker data root.

overlay2 needs a backing filesystem that fills in ``d_type`` in directory
entries. xfs created with ``ftype=0`` (the default of EL 7.0-7.2 installers)
does not, and Docker then refuses overlay2 or runs it badly; ext4, btrfs and
tmpfs always do.
"""
import os
import re

from .cgroup import _unescape

D_TYPE_FILESYSTEMS = frozenset(["ext4", "ext3", "ext2", "btrfs", "tmpfs", "f2fs", "zfs", "overlay"])


def parse_proc_filesystems(text):
    """Names of the filesystems the kernel supports, from /proc/filesystems."""
    names = []
    for line in text.splitlines():
        fields = line.split()
        if fields:
            names.append(fields[-1])
    return names


def parse_mountinfo(text):
    """Parse /proc/self/mountinfo into dicts with mount_point, fstype, source."""
    mounts = []
    for line in text.splitlines():
        if " - " not in line:
            continue
        before, after = line.split(" - ", 1)
        left = before.split()
        right = after.split()
        if len(left) < 5 or len(right) < 2:
            continue
        mounts.append({"mount_point": _unescape(left[4]), "fstype": right[0], "source": right[1]})
    return mounts


def nearest_existing(path, exists=os.path.exists):
    """The path itself or its closest existing ancestor (the data root may not exist yet)."""
    path = os.path.abspath(path)
    while not exists(path) and path != "/":
        path = os.path.dirname(path)
    return path


def mount_for(path, mounts):
    """The mount holding ``path``: the longest mount point prefix, last mounted wins."""
    best = None
    for mount in mounts:
        point = mount["mount_point"]
        inside = point in (path, "/") or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best["mount_point"])):
            best = mount
    return best


def parse_xfs_ftype(xfs_info_text):
    """The ``ftype`` value (0 or 1) from ``xfs_info`` output, or None when absent."""
    match = re.search(r"\bftype=(\d)", xfs_info_text)
    return int(match.group(1)) if match else None


def d_type_supported(fstype, xfs_ftype=None):
    """True/False when known, None when the filesystem cannot be judged."""
    if fstype == "xfs":
        if xfs_ftype is None:
            return None
        return xfs_ftype == 1
    if fstype in D_TYPE_FILESYSTEMS:
        return True
    return None
