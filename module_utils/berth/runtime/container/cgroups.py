"""Container cgroups: one conversion of Docker's flags, one small class per version.

``convert_resources`` turns HostConfig fields into kernel values once (as runc
does); ``CgroupV1`` and ``CgroupV2`` only know where each value is written.
v1 controllers that /proc/self/cgroup lists but that have no mount (net_cls,
hugetlb, perf_event on some hosts) are skipped, as runc does (crun 1.8 stops).
"""
import errno
import math
import os
import time

from .. import syscalls
from . import spec

V1_ROOT = "/sys/fs/cgroup"
CPU_PERIOD = 100000

# Docker's device allowlist (moby daemon/pkg/oci/defaults.go) plus the nodes the
# runtime creates (full, ptmx, pts): everything else, e.g. block devices, is denied.
DEVICE_ALLOW = (
    "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm",
    "c 5:2 rwm", "c 136:* rwm", "c 10:229 rwm",
)


# eBPF opcodes of the v2 device program (linux/bpf.h): 64-bit ALU, jumps, word loads from the context.
BPF_LDX_W = 0x61
BPF_AND_K = 0x57
BPF_RSH_K = 0x77
BPF_MOV_K = 0xb7
BPF_MOV_X = 0xbf
BPF_JNE_K = 0x55
BPF_JNE_X = 0x5d
BPF_EXIT = 0x95
DEVICE_TYPES = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
DEVICE_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE


def device_program(rules=DEVICE_ALLOW):
    """The v1 allowlist as a BPF_PROG_TYPE_CGROUP_DEVICE program (v2 has no devices.allow), as runc
    builds it: r2 = type, r3 = access, r4 = major, r5 = minor; each rule that matches returns 1
    (allow); falling off the end returns 0 (deny). Instructions are (code, dst, src, off, imm)."""
    program = [(BPF_LDX_W, 2, 1, 0, 0), (BPF_AND_K, 2, 0, 0, 0xffff), (BPF_LDX_W, 3, 1, 0, 0),
               (BPF_RSH_K, 3, 0, 0, 16), (BPF_LDX_W, 4, 1, 4, 0), (BPF_LDX_W, 5, 1, 8, 0)]
    for rule in rules:
        kind, numbers, access = rule.split()
        major, minor = numbers.split(":")
        tests = [(BPF_JNE_K, 2, 0, DEVICE_TYPES[kind]),
                 (BPF_MOV_X, 1, 3, None), (BPF_AND_K, 1, 0, sum(DEVICE_ACCESS[a] for a in access)),
                 (BPF_JNE_X, 1, 3, 0)]  # the access asked for must lie within the rule's
        if major != "*":
            tests.append((BPF_JNE_K, 4, 0, int(major)))
        if minor != "*":
            tests.append((BPF_JNE_K, 5, 0, int(minor)))
        length = len(tests) + 2
        for index, (code, dst, src, imm) in enumerate(tests):
            jumps = code in (BPF_JNE_K, BPF_JNE_X)
            program.append((code, dst, src, length - index - 1 if jumps else 0, imm or 0))
        program += [(BPF_MOV_K, 0, 0, 0, 1), (BPF_EXIT, 0, 0, 0, 0)]
    return program + [(BPF_MOV_K, 0, 0, 0, 0), (BPF_EXIT, 0, 0, 0, 0)]


def shares_to_weight(shares):
    """cpu.shares -> cpu.weight with the quadratic fit of runc/crun (1024 -> 100)."""
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    level = math.log2(shares)
    exponent = (level * level + 125 * level) / 612.0 - 7.0 / 34.0
    return int(math.ceil(10 ** exponent))


def convert_resources(host_config):
    """HostConfig -> {'memory', 'memory_swap', 'cpu_quota', 'cpu_period', 'cpu_shares', 'pids'}.

    Values are kernel-ready: -1 means unlimited; absent keys are left at the default.
    """
    out = {}
    memory, swap = spec.resolve_memory(host_config.get("Memory") or 0, host_config.get("MemorySwap") or 0)
    if memory:
        out["memory"] = memory
        out["memory_swap"] = swap
    nano = host_config.get("NanoCpus") or 0
    if nano:
        out["cpu_period"] = CPU_PERIOD
        out["cpu_quota"] = nano * CPU_PERIOD // 1000000000
    if host_config.get("CpuShares"):
        out["cpu_shares"] = int(host_config["CpuShares"])
    pids = host_config.get("PidsLimit")
    if pids is not None and pids != 0:
        out["pids"] = -1 if pids < 0 else int(pids)
    return out


# Docker's words when the kernel cannot hold a limit it was asked for (it discards the limit and
# says so, rather than failing the container or hiding it).
DISCARDED = {
    "memory": "Your kernel does not support memory limit capabilities or the cgroup is not mounted. "
              "Limitation discarded.",
    "memory_swap": "Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
                   "Memory limited without swap.",
    "cpu_quota": "Your kernel does not support CPU CFS scheduler or the cgroup is not mounted. "
                 "CPU period/quota discarded.",
    "cpu_shares": "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.",
    "pids": "Your kernel does not support pids limit capabilities or the cgroup is not mounted. "
            "PIDs limit discarded.",
}


def discarded_warnings(keys):
    """Docker's warning for each discarded resource key, in a stable order, once each."""
    return [DISCARDED[key] for key in ("memory", "memory_swap", "cpu_quota", "cpu_shares", "pids") if key in keys]


def _write(path, value):
    """One write(2) of ``value`` to a cgroup file (raw fds: a container start writes about
    twenty, and a Python file object costs four more system calls each)."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _read(path):
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks).decode().strip()
            chunks.append(chunk)
    finally:
        os.close(fd)


def _join(path, pid, filename="cgroup.procs"):
    """Write a pid (0: the writer) to cgroup.procs (or ``filename``); EINVAL for a task still
    being forked is retried (runc)."""
    for attempt in range(5):
        try:
            _write(os.path.join(path, filename), pid)
            return
        except OSError as exc:
            if exc.errno != errno.EINVAL or attempt == 4:
                raise
            time.sleep(0.03)


def _rmdir(path):
    """Remove a cgroup directory; a cgroup whose last task is still exiting is EBUSY briefly."""
    for _ in range(50):
        try:
            os.rmdir(path)
            return True
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return True
            if exc.errno != errno.EBUSY:
                raise
            time.sleep(0.01)
    return False


def mounted_v1_controllers(mounts_text=None):
    """{controller: mountpoint} for every mounted v1 hierarchy (co-mounts listed per name)."""
    if mounts_text is None:
        with open("/proc/self/mounts") as handle:
            mounts_text = handle.read()
    result = {}
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[2] != "cgroup":
            continue
        for option in fields[3].split(","):
            if option.startswith("name="):
                continue
            if option in ("rw", "ro", "nosuid", "nodev", "noexec", "relatime", "clone_children",
                          "noprefix", "xattr") or "=" in option:
                continue
            result.setdefault(option, fields[1])
    return result


def detect_version(root=V1_ROOT):
    """2 on a unified host (cgroup.controllers at the root), else 1."""
    return 2 if os.path.exists(os.path.join(root, "cgroup.controllers")) else 1


class CgroupV1(object):
    """One directory per mounted controller: <mount>/<parent>/<id>."""

    FILES = {
        "memory": ("memory", "memory.limit_in_bytes"),
        "memory_swap": ("memory", "memory.memsw.limit_in_bytes"),
        "cpu_period": ("cpu", "cpu.cfs_period_us"),
        "cpu_quota": ("cpu", "cpu.cfs_quota_us"),
        "cpu_shares": ("cpu", "cpu.shares"),
        "pids": ("pids", "pids.max"),
    }
    # Only the controllers berth sets or reads (each join is a write per hierarchy), so
    # blkio, freezer and cpuset are left alone.
    WANTED = ("memory", "cpu", "cpuacct", "pids", "devices")

    def __init__(self, name, parent="berth", mounts=None):
        self.mounts = mounted_v1_controllers() if mounts is None else mounts
        self.relative = os.path.join(parent, name)
        self.parent = parent
        self.paths = {c: os.path.join(m, self.relative) for c, m in self.mounts.items()
                      if c in self.WANTED}

    def create(self, resources, privileged=False):
        """Make the groups and write the limits; returns the resource keys the host cannot hold
        (controller not mounted, or no swap accounting), which were discarded."""
        for controller, path in self.paths.items():
            if controller == "cpuset":
                self._prepare_cpuset(self.mounts[controller])
            os.makedirs(path, exist_ok=True)
        discarded = []
        for key in ("memory", "memory_swap", "cpu_period", "cpu_quota", "cpu_shares", "pids"):
            if key not in resources:
                continue
            controller, filename = self.FILES[key]
            if controller not in self.paths:
                discarded.append(key)
                continue
            value = resources[key]
            if key == "pids" and value == -1:
                value = "max"
            target = os.path.join(self.paths[controller], filename)
            if key == "memory_swap" and not os.path.exists(target):
                discarded.append(key)  # kernel booted without swap accounting
                continue
            _write(target, value)
        if "devices" in self.paths and not privileged:
            _write(os.path.join(self.paths["devices"], "devices.deny"), "a")
            for rule in DEVICE_ALLOW:
                _write(os.path.join(self.paths["devices"], "devices.allow"), rule)
        return discarded

    def _prepare_cpuset(self, mount):
        """A new v1 cpuset has empty cpus/mems: copy them down the path or joining fails."""
        current = mount
        for part in self.relative.split("/"):
            child = os.path.join(current, part)
            if not os.path.isdir(child):
                os.mkdir(child)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not _read(os.path.join(child, name)):
                    _write(os.path.join(child, name), _read(os.path.join(current, name)))
            current = child

    def join(self, pid):
        """Move ``pid`` into every hierarchy; 0 is the calling thread, written to ``tasks``.

        A write to cgroup.procs takes the kernel's global threadgroup lock, whose
        first writer after a quiet spell waits out an RCU grace period (5-15 ms
        measured here, most of a container start). The calling thread moving itself
        through ``tasks`` skips that lock. Only a single-threaded process (a fresh
        fork) passes 0, so that thread is the whole process.
        """
        filename = "tasks" if pid == 0 else "cgroup.procs"
        for path in self.paths.values():
            _join(path, pid, filename)

    def pids(self):
        path = self.paths.get("pids") or self.paths.get("memory") or next(iter(self.paths.values()))
        try:
            return [int(x) for x in _read(os.path.join(path, "cgroup.procs")).split()]
        except OSError:
            return []

    def stats(self):
        result = {}
        for key, controller, filename in (("memory", "memory", "memory.usage_in_bytes"),
                                          ("memory_limit", "memory", "memory.limit_in_bytes"),
                                          ("cpu_ns", "cpuacct", "cpuacct.usage"),
                                          ("pids", "pids", "pids.current"),
                                          ("oom_kills", "memory", "memory.oom_control")):
            try:
                text = _read(os.path.join(self.paths[controller], filename))
            except (KeyError, OSError):
                continue
            if key == "oom_kills":
                fields = dict(line.split() for line in text.splitlines())
                result[key] = int(fields.get("oom_kill", 0))
            else:
                result[key] = int(text)
        return result

    def destroy(self):
        ok = True
        for path in self.paths.values():
            ok = _rmdir(path) and ok
        return ok


class CgroupV2(object):
    """One directory in the unified tree: <root>/<parent>/<id>."""

    # the resource key (convert_resources) behind each file values_v2 writes
    KEYS = {"memory.max": "memory", "memory.swap.max": "memory_swap", "cpu.max": "cpu_quota",
            "cpu.weight": "cpu_shares", "pids.max": "pids"}

    def __init__(self, name, parent="berth", root=V1_ROOT):
        self.root = root
        self.parent_path = os.path.join(root, parent)
        self.path = os.path.join(self.parent_path, name)

    def available_controllers(self):
        try:
            return set(_read(os.path.join(self.root, "cgroup.controllers")).split())
        except OSError:
            return set()

    def create(self, resources, privileged=False):
        wanted = self.available_controllers() & {"cpu", "memory", "pids", "io"}
        os.makedirs(self.parent_path, exist_ok=True)
        for directory in (self.root, self.parent_path):
            if wanted:
                _write(os.path.join(directory, "cgroup.subtree_control"),
                       " ".join("+" + c for c in sorted(wanted)))
        os.makedirs(self.path, exist_ok=True)
        discarded = []
        for key, value in sorted(values_v2(resources).items()):
            target = os.path.join(self.path, key)
            if os.path.exists(target):
                _write(target, value)
            else:  # the controller is not enabled for this group (or no swap accounting)
                discarded.append(self.KEYS[key])
        if not privileged:
            self._limit_devices()
        return discarded

    def _limit_devices(self):
        """v1's devices.deny/allow as an eBPF program attached to the container's cgroup."""
        program = syscalls.bpf_load_device_program(device_program())
        try:
            directory = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                syscalls.bpf_attach_device_program(directory, program)
            finally:
                os.close(directory)
        finally:
            os.close(program)

    def join(self, pid):
        _join(self.path, pid)

    def pids(self):
        try:
            return [int(x) for x in _read(os.path.join(self.path, "cgroup.procs")).split()]
        except OSError:
            return []

    def stats(self):
        """The same keys as v1's: memory.max "max" is no limit, oom_kill counts from memory.events."""
        result = {}
        for key, filename in (("memory", "memory.current"), ("memory_limit", "memory.max"),
                              ("pids", "pids.current")):
            try:
                result[key] = int(_read(os.path.join(self.path, filename)))
            except (OSError, ValueError):
                continue
        for key, filename, field, scale in (("cpu_ns", "cpu.stat", "usage_usec", 1000),
                                            ("oom_kills", "memory.events", "oom_kill", 1)):
            try:
                fields = dict(line.split() for line in _read(os.path.join(self.path, filename)).splitlines())
            except OSError:
                continue
            if field in fields:
                result[key] = int(fields[field]) * scale
        return result

    def destroy(self):
        return _rmdir(self.path)


def values_v2(resources):
    """Kernel-ready values for the v2 files (memory.swap.max is swap alone, not mem+swap)."""
    out = {}
    if "memory" in resources:
        out["memory.max"] = resources["memory"]
        swap = resources.get("memory_swap", 0)
        if swap == -1:
            out["memory.swap.max"] = "max"
        elif swap:
            out["memory.swap.max"] = swap - resources["memory"]
    if "cpu_quota" in resources:
        out["cpu.max"] = "%d %d" % (resources["cpu_quota"], resources["cpu_period"])
    if "cpu_shares" in resources:
        out["cpu.weight"] = shares_to_weight(resources["cpu_shares"])
    if "pids" in resources:
        out["pids.max"] = "max" if resources["pids"] == -1 else resources["pids"]
    return out


def for_container(container_id, parent="berth"):
    """The cgroup object this host uses for a container."""
    if detect_version() == 2:
        return CgroupV2(container_id, parent)
    return CgroupV1(container_id, parent)
