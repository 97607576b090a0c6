"""The only ctypes boundary of berth: thin wrappers over libc.

Every wrapper calls a libc symbol loaded with ``use_errno=True`` and raises
``OSError(errno, strerror, argument)`` when it fails, so callers handle
failures like any other ``os`` call. No syscall numbers are hard-coded: glibc
exports every symbol used here (``pivot_root`` since 2.2.5, ``setns`` since
2.14), which covers CentOS 7's glibc 2.17. The one exception is bpf(2), which
glibc does not wrap: it goes through ``syscall()`` with its number per machine.

``os.unshare``/``os.setns`` only exist from Python 3.12; managed hosts run 3.6.
"""
import ctypes
import errno
import os
import platform

# clone(2) namespace flags
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

# prctl(2) options
PR_SET_PDEATHSIG = 1
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_SET_SECCOMP = 22
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2

_LINUX_CAPABILITY_VERSION_3 = 0x20080522

def _load_libc():
    """libc.so.6 directly: ctypes.util.find_library runs ldconfig, milliseconds per start."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        from ctypes import util
        return ctypes.CDLL(util.find_library("c"), use_errno=True)


_libc = _load_libc()


def _check(result, what, argument=None):
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, "%s: %s" % (what, os.strerror(code)), argument)
    return result


def _bytes(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    return os.fsencode(value)


def unshare(flags):
    """Move the calling process into new namespaces (``CLONE_NEW*`` flags)."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare", hex(flags))


def setns(fd, nstype=0):
    """Join the namespace that ``fd`` (an open /proc/PID/ns/* file) refers to."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns", nstype)


def mount(source, target, fstype, flags=0, data=None):
    """mount(2). ``data`` stays NULL when unused: "" costs the kernel a page copy."""
    _check(
        _libc.mount(_bytes(source), _bytes(target), _bytes(fstype),
                    ctypes.c_ulong(flags), _bytes(data)),
        "mount", target)


def umount2(target, flags=0):
    _check(_libc.umount2(_bytes(target), ctypes.c_int(flags)), "umount2", target)


def pivot_root(new_root, put_old):
    _check(_libc.pivot_root(_bytes(new_root), _bytes(put_old)), "pivot_root", new_root)


def sethostname(name):
    raw = _bytes(name)
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname", name)


def prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    return _check(
        _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                    ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)),
        "prctl", option)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def capget(pid=0):
    """Return (effective, permitted, inheritable) as 64-bit masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget", pid)
    return tuple(getattr(data[0], f) | (getattr(data[1], f) << 32)
                 for f in ("effective", "permitted", "inheritable"))


def capset(effective, permitted, inheritable):
    """Set the calling thread's capability sets from 64-bit masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for index, shift in ((0, 0), (1, 32)):
        data[index].effective = (effective >> shift) & 0xFFFFFFFF
        data[index].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[index].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def capbset_drop(cap):
    try:
        prctl(PR_CAPBSET_DROP, cap)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # a capability this kernel does not know
            raise


def set_no_new_privs():
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_child_subreaper():
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(signum):
    prctl(PR_SET_PDEATHSIG, signum)


def set_process_name(name):
    buf = ctypes.create_string_buffer(_bytes(name)[:15])
    _check(_libc.prctl(ctypes.c_int(PR_SET_NAME), buf, 0, 0, 0), "prctl(PR_SET_NAME)")


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_set_filter(packed):
    """Install a classic-BPF seccomp filter: ``packed`` is struct sock_filter[] as bytes.

    Packed ahead (seccomp.pack) so a forked child only copies it, no per-instruction objects.
    """
    count = len(packed) // ctypes.sizeof(_SockFilter)
    array = (_SockFilter * count).from_buffer_copy(packed)
    prog = _SockFprog(count, array)
    _check(_libc.prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER),
                       ctypes.byref(prog), 0, 0), "prctl(PR_SET_SECCOMP)")


# bpf(2): glibc has no wrapper, so it is called by number (asm/unistd.h of each machine).
_NR_BPF = {"x86_64": 321, "aarch64": 280}
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2


class _BpfInsn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("regs", ctypes.c_uint8), ("off", ctypes.c_int16),
                ("imm", ctypes.c_int32)]


class _BpfProgLoad(ctypes.Structure):
    _fields_ = [("prog_type", ctypes.c_uint32), ("insn_cnt", ctypes.c_uint32), ("insns", ctypes.c_uint64),
                ("license", ctypes.c_uint64), ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32),
                ("log_buf", ctypes.c_uint64), ("kern_version", ctypes.c_uint32), ("prog_flags", ctypes.c_uint32),
                ("prog_name", ctypes.c_char * 16), ("prog_ifindex", ctypes.c_uint32),
                ("expected_attach_type", ctypes.c_uint32)]


class _BpfProgAttach(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_bpf_fd", ctypes.c_uint32),
                ("attach_type", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32),
                ("replace_bpf_fd", ctypes.c_uint32)]


def _bpf(command, attr, what):
    number = _NR_BPF.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, "%s: no bpf(2) number known for %s" % (what, platform.machine()))
    return _check(_libc.syscall(ctypes.c_long(number), ctypes.c_int(command), ctypes.byref(attr),
                                ctypes.c_uint(ctypes.sizeof(attr))), what)


def bpf_load_device_program(instructions, name="berth_devices"):
    """Load a cgroup device program given as (code, dst, src, off, imm) tuples; returns its fd.

    A refused program is loaded again with the verifier's log, which goes into the error.
    """
    array = (_BpfInsn * len(instructions))(*[_BpfInsn(code, dst | (src << 4), off, imm)
                                              for code, dst, src, off, imm in instructions])
    licence = ctypes.create_string_buffer(b"Apache-2.0")
    attr = _BpfProgLoad(prog_type=BPF_PROG_TYPE_CGROUP_DEVICE, insn_cnt=len(instructions),
                        insns=ctypes.addressof(array), license=ctypes.addressof(licence),
                        prog_name=name.encode()[:15], expected_attach_type=BPF_CGROUP_DEVICE)
    try:
        return _bpf(BPF_PROG_LOAD, attr, "bpf(BPF_PROG_LOAD)")
    except OSError as exc:
        log = ctypes.create_string_buffer(65536)
        attr.log_level, attr.log_size, attr.log_buf = 1, len(log), ctypes.addressof(log)
        try:
            return _bpf(BPF_PROG_LOAD, attr, "bpf(BPF_PROG_LOAD)")
        except OSError:
            raise OSError(exc.errno, "%s; verifier: %s" % (exc.strerror, log.value.decode(errors="replace")[-500:]))


def bpf_attach_device_program(cgroup_fd, program_fd):
    """Attach a device program to a cgroup (kept by the cgroup; the fds may be closed after)."""
    attr = _BpfProgAttach(target_fd=cgroup_fd, attach_bpf_fd=program_fd, attach_type=BPF_CGROUP_DEVICE,
                          attach_flags=BPF_F_ALLOW_MULTI)
    _bpf(BPF_PROG_ATTACH, attr, "bpf(BPF_PROG_ATTACH)")
