"""Which cgroup version the host's container engine will use."""


def parse_mounts(text):
    """Parse /proc/mounts (or /proc/self/mounts) into (source, target, fstype, options) rows."""
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        rows.append((fields[0], _unescape(fields[1]), fields[2], fields[3]))
    return rows


def _unescape(path):
    # /proc/mounts escapes space, tab, newline and backslash as octal
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        path = path.replace(code, char)
    return path


def cgroup_version(mounts_text, root="/sys/fs/cgroup"):
    """2 when ``root`` is a cgroup2 mount (unified), 1 when v1 hierarchies exist, else None.

    A hybrid host (v1 controllers plus a v2 mount elsewhere, as systemd's
    "hybrid" mode does) is v1 for Docker: it only goes v2 when the root is cgroup2.
    """
    rows = parse_mounts(mounts_text)
    if any(target == root and fstype == "cgroup2" for _, target, fstype, _ in rows):
        return 2
    if any(fstype == "cgroup" for _, _, fstype, _ in rows):
        return 1
    return None
