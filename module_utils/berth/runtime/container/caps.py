"""Linux capabilities by name and the masks Docker's defaults produce."""
from .. import syscalls

CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
CAP_NUMBER = {name: number for number, name in enumerate(CAPABILITIES)}


_LAST_CAP = []


def last_cap():
    """The highest capability number the running kernel knows (read once per process: the
    supervisor's answer is inherited by every container it forks)."""
    if not _LAST_CAP:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as handle:
                _LAST_CAP.append(int(handle.read()))
        except OSError:
            return len(CAPABILITIES) - 1
    return _LAST_CAP[0]


def mask_of(names):
    mask = 0
    for name in names:
        mask |= 1 << CAP_NUMBER[name]
    return mask


_BOUNDING = []


def bounding_mask():
    """The caller's bounding set: --privileged keeps what the host allows, no more.

    Read once per process (41 prctl calls), then remembered.
    """
    if _BOUNDING:
        return _BOUNDING[0]
    mask = 0
    for cap in range(last_cap() + 1):
        try:
            if syscalls.prctl(syscalls.PR_CAPBSET_READ, cap) == 1:
                mask |= 1 << cap
        except OSError:
            continue
    _BOUNDING.append(mask)
    return mask


def restrict_to(keep_mask):
    """Drop every capability outside ``keep_mask`` from all five sets of this process.

    Order matters: the bounding set is dropped while CAP_SETPCAP is still effective,
    then capset narrows effective/permitted and clears inheritable; ambient is
    cleared explicitly (it survives exec otherwise).
    """
    for cap in range(last_cap() + 1):
        if not keep_mask & (1 << cap):
            syscalls.capbset_drop(cap)
    try:
        syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass  # kernels before 4.3 have no ambient set
    effective, permitted, _ = syscalls.capget()
    syscalls.capset(effective & keep_mask, permitted & keep_mask, 0)
