"""Docker's default seccomp profile as a classic BPF allow list, loaded via prctl.

Docker compiles its profile (moby profiles/seccomp/default.json) with
libseccomp; berth has no libseccomp, so this module carries the same profile as
data and compiles it itself:

* default action ERRNO(EPERM), as dockerd since 20.10 (``defaultErrnoRet: 1``);
* the allow list, plus the rules that depend on the container's capabilities
  (``mount``, ``unshare``, ``setns``, ``bpf``... only with CAP_SYS_ADMIN and
  friends; ``chroot`` with CAP_SYS_CHROOT, which is a default capability);
* argument rules: ``clone`` without CAP_SYS_ADMIN may not create namespaces,
  ``personality`` only takes the five values Docker allows, ``socket`` refuses
  AF_ALG (38) and AF_VSOCK (40); ``clone3`` without CAP_SYS_ADMIN fails with
  ENOSYS, so glibc falls back to ``clone``, whose flags the filter can see;
* ``ptrace`` and ``process_vm_*`` only on kernels >= 4.8 (before, ptrace could
  step around seccomp), else with CAP_SYS_PTRACE.

Architectures (numbers in the generated ``syscall_numbers``): on x86_64 the
native table and i386 (Docker's profile lists i386 as a sub-architecture, so
32-bit programs keep working); x32 (syscall numbers with bit 30 set) is denied,
a deliberate difference from Docker, which allows x32 too. On aarch64 the
native table and 32-bit ARM. Any other audit architecture gets EPERM. Other
machines run without a filter (``supported()`` says so).

Argument rules compare the low 32 bits of the argument: the kernel declares
``personality``'s and ``socket``'s argument as 32-bit and the namespace bits of
``clone``'s flags all lie in the low word, so the verdict equals libseccomp's
64-bit one for every call the kernel can tell apart.

The program is a binary search over the ranges of numbers that share a verdict
(a few hundred instructions, about 9 comparisons per syscall) rather than a
linear list of 350 comparisons; it is built once per process and capability
set and kept packed, ready for prctl.
"""
import os
import struct

from .. import syscalls
from . import syscall_numbers

# -- the profile, as data (moby profiles/seccomp/default.json, read at moby b985e23) ------------
ALLOWED = (
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
    "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
    "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
    "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
    "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
    "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
    "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday",
    "getuid", "getuid32", "getxattr", "getxattrat", "inotify_add_watch", "inotify_init",
    "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
    "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
    "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
    "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listmount", "listxattr",
    "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat",
    "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret",
    "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
    "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "mseal",
    "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2",
    "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
    "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev",
    "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom",
    "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "removexattrat",
    "rename", "renameat", "renameat2", "restart_syscall", "riscv_hwprobe", "rmdir", "rseq",
    "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
    "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg",
    "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
    "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid",
    "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
    "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
    "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair",
    "splice", "stat", "stat64", "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat",
    "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
    "unlink", "unlinkat", "uretprobe", "utime", "utimensat", "utimensat_time64", "utimes", "vfork",
    "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
)
ALLOWED_FROM_KERNEL_4_8 = ("process_vm_readv", "process_vm_writev", "ptrace")
ALLOWED_WITH_CAPABILITY = (
    ("CAP_DAC_READ_SEARCH", ("open_by_handle_at",)),
    ("CAP_SYS_ADMIN", ("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
                       "fspick", "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules",
                       "lsm_set_self_attr", "mount", "mount_setattr", "move_mount", "open_tree",
                       "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
                       "setns", "syslog", "umount", "umount2", "unshare")),
    ("CAP_SYS_BOOT", ("reboot",)),
    ("CAP_SYS_CHROOT", ("chroot",)),
    ("CAP_SYS_MODULE", ("delete_module", "init_module", "finit_module")),
    ("CAP_SYS_PACCT", ("acct",)),
    ("CAP_SYS_PTRACE", ("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                        "process_vm_writev", "ptrace")),
    ("CAP_SYS_RAWIO", ("iopl", "ioperm")),
    ("CAP_SYS_TIME", ("settimeofday", "stime", "clock_settime", "clock_settime64")),
    ("CAP_SYS_TTY_CONFIG", ("vhangup",)),
    ("CAP_SYS_NICE", ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node")),
    ("CAP_SYSLOG", ("syslog",)),
    ("CAP_BPF", ("bpf",)),
    ("CAP_PERFMON", ("perf_event_open",)),
)
_ARM_EXTRAS = ("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
               "cacheflush", "set_tls")
ALLOWED_ON_ARCH = {
    "X86_64": ("arch_prctl", "modify_ldt"),
    "I386": ("modify_ldt",),
    "AARCH64": _ARM_EXTRAS,
    "ARM": _ARM_EXTRAS,
}
# PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and 0xffffffff (query only)
PERSONALITY_ALLOWED = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
# CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
CLONE_NAMESPACE_FLAGS = 0x7E020000
SOCKET_DENIED_FAMILIES = (38, 40)  # AF_ALG, AF_VSOCK: Docker allows < 38, 39 and > 40

# -- seccomp and classic BPF constants (linux/seccomp.h, linux/filter.h, linux/audit.h) ---------
AUDIT_ARCH = {"X86_64": 0xC000003E, "I386": 0x40000003, "AARCH64": 0xC00000B7, "ARM": 0x40000028}
MACHINE_ARCHES = {"x86_64": ("X86_64", "I386"), "aarch64": ("AARCH64", "ARM")}
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1
ENOSYS = 38
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0_LOW = 0, 4, 16  # struct seccomp_data, little endian
MAX_INSTRUCTIONS = 4096

BPF_LD_W_ABS = 0x20
BPF_JA = 0x05
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06

ALLOW = "allow"
DENY = "eperm"
NO_SYSCALL = "enosys"
CHECK_CLONE = "clone"
CHECK_PERSONALITY = "personality"
CHECK_SOCKET = "socket"
RETURN_VALUE = {ALLOW: SECCOMP_RET_ALLOW, DENY: SECCOMP_RET_ERRNO | EPERM,
                NO_SYSCALL: SECCOMP_RET_ERRNO | ENOSYS}


def capability_names(cap_mask):
    from .caps import CAP_NUMBER
    return {name for name, number in CAP_NUMBER.items() if cap_mask & (1 << number)}


def allowed_names(arch, capabilities, modern_kernel):
    """Every syscall name the profile allows on ``arch`` with these capability names."""
    names = set(ALLOWED) | set(ALLOWED_ON_ARCH.get(arch, ()))
    if modern_kernel:
        names.update(ALLOWED_FROM_KERNEL_4_8)
    for capability, granted in ALLOWED_WITH_CAPABILITY:
        if capability in capabilities:
            names.update(granted)
    return names


def policy(arch, capabilities, modern_kernel=True):
    """{syscall number: verdict} for ``arch``; every number not listed is DENY."""
    table = getattr(syscall_numbers, arch)
    verdicts = {table[name]: ALLOW for name in allowed_names(arch, capabilities, modern_kernel)
                if name in table}
    admin = "CAP_SYS_ADMIN" in capabilities
    special = {"personality": CHECK_PERSONALITY, "socket": CHECK_SOCKET}
    if not admin:
        special.update({"clone": CHECK_CLONE, "clone3": NO_SYSCALL})
    for name, verdict in special.items():
        if name in table:
            verdicts[table[name]] = verdict
    return verdicts


def segments(verdicts):
    """[(first number, verdict)] covering 0..2**32-1 in runs of numbers sharing a verdict.

    The verdict can only change at a listed number or just after one.
    """
    runs = [(0, verdicts.get(0, DENY))]
    for number in sorted(set(verdicts) | {n + 1 for n in verdicts}):
        verdict = verdicts.get(number, DENY)
        if number and verdict != runs[-1][1]:
            runs.append((number, verdict))
    return runs


class _Assembler(object):
    """Classic BPF with symbolic forward jumps.

    Targets are label names, ``None`` meaning the next instruction. A
    conditional jump's offsets have 8 bits, JA's 32: a conditional jump that
    lands too far is rewritten to hop through two JAs.
    """

    def __init__(self):
        self.items = []
        self.count = 0

    def label(self):
        self.count += 1
        return "L%d" % self.count

    def place(self, name):
        self.items.append(("label", name, None, None))

    def emit(self, code, k, jt=None, jf=None):
        self.items.append((code, jt, jf, k))

    def verdict(self, verdict, handlers):
        if verdict in RETURN_VALUE:
            self.emit(BPF_RET_K, RETURN_VALUE[verdict])
        else:
            self.emit(BPF_JA, handlers[verdict])

    def assemble(self):
        items = self._name_fallthroughs(self.items)
        while True:
            positions, pc = {}, 0
            for item in items:
                if item[0] == "label":
                    positions[item[1]] = pc
                else:
                    pc += 1
            program, too_far = [], None
            for index, (code, jt, jf, k) in enumerate(items):
                if code == "label":
                    continue
                here = len(program)
                if code == BPF_JA:
                    program.append((code, 0, 0, positions[k] - here - 1))
                elif code in (BPF_RET_K, BPF_LD_W_ABS):
                    program.append((code, 0, 0, k))
                elif max(positions[jt], positions[jf]) - here - 1 > 255:
                    too_far = index
                    break
                else:
                    program.append((code, positions[jt] - here - 1, positions[jf] - here - 1, k))
            if too_far is None:
                return program
            code, jt, jf, k = items[too_far]
            hop_true, hop_false = self.label(), self.label()
            items[too_far:too_far + 1] = [(code, hop_true, hop_false, k), ("label", hop_true, None, None),
                                          (BPF_JA, None, None, jt), ("label", hop_false, None, None),
                                          (BPF_JA, None, None, jf)]

    def _name_fallthroughs(self, items):
        named = []
        for item in items:
            code, jt, jf, k = item
            if code in ("label", BPF_JA, BPF_RET_K, BPF_LD_W_ABS) or (jt and jf):
                named.append(item)
                continue
            after = self.label()
            named += [(code, jt or after, jf or after, k), ("label", after, None, None)]
        return named


def _emit_search(asm, runs, handlers):
    """Binary search over the runs' first numbers: JGE splits, a verdict at each leaf."""
    if len(runs) == 1:
        asm.verdict(runs[0][1], handlers)
        return
    middle = len(runs) // 2
    upper = asm.label()
    asm.emit(BPF_JGE_K, runs[middle][0], jt=upper)
    _emit_search(asm, runs[:middle], handlers)
    asm.place(upper)
    _emit_search(asm, runs[middle:], handlers)


def _emit_argument_check(asm, handler, tests, on_match, otherwise):
    """At ``handler``: load the first argument's low word; any of ``tests`` ((code, k)
    conditional jumps) matching returns ``on_match``, else ``otherwise``."""
    asm.place(handler)
    asm.emit(BPF_LD_W_ABS, OFFSET_ARG0_LOW)
    matched = asm.label()
    for code, value in tests:
        asm.emit(code, value, jt=matched)
    asm.emit(BPF_RET_K, RETURN_VALUE[otherwise])
    asm.place(matched)
    asm.emit(BPF_RET_K, RETURN_VALUE[on_match])


def _emit_argument_checks(asm, handlers):
    _emit_argument_check(asm, handlers[CHECK_CLONE], [(BPF_JSET_K, CLONE_NAMESPACE_FLAGS)], DENY, ALLOW)
    _emit_argument_check(asm, handlers[CHECK_PERSONALITY], [(BPF_JEQ_K, v) for v in PERSONALITY_ALLOWED],
                         ALLOW, DENY)
    _emit_argument_check(asm, handlers[CHECK_SOCKET], [(BPF_JEQ_K, f) for f in SOCKET_DENIED_FAMILIES],
                         DENY, ALLOW)


def build_program(arches, capabilities, modern_kernel=True):
    """[(code, jt, jf, k)]: dispatch on the audit arch, then search that arch's runs."""
    asm = _Assembler()
    handlers = {check: asm.label() for check in (CHECK_CLONE, CHECK_PERSONALITY, CHECK_SOCKET)}
    entries = [asm.label() for _ in arches]
    asm.emit(BPF_LD_W_ABS, OFFSET_ARCH)
    for arch, entry in zip(arches, entries):
        asm.emit(BPF_JEQ_K, AUDIT_ARCH[arch], jt=entry)
    asm.emit(BPF_RET_K, RETURN_VALUE[DENY])  # a foreign architecture
    for arch, entry in zip(arches, entries):
        asm.place(entry)
        asm.emit(BPF_LD_W_ABS, OFFSET_NR)
        # x32 numbers (bit 30 set) lie above every native number: the search denies them
        _emit_search(asm, segments(policy(arch, capabilities, modern_kernel)), handlers)
    _emit_argument_checks(asm, handlers)
    program = asm.assemble()
    if len(program) > MAX_INSTRUCTIONS:
        raise ValueError("seccomp program of %d instructions exceeds the kernel's %d"
                         % (len(program), MAX_INSTRUCTIONS))
    return program


def pack(program):
    """struct sock_filter[] as the kernel reads it."""
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def supported():
    return os.uname()[4] in MACHINE_ARCHES


def kernel_at_least(release, wanted):
    numbers = []
    for part in release.split("-")[0].split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit())
        numbers.append(int(digits or 0))
    return tuple(numbers) >= wanted


_PACKED = {}


def packed_program(cap_mask):
    """The packed filter for a capability mask, built once per process and mask."""
    data = _PACKED.get(cap_mask)
    if data is None:
        arches = MACHINE_ARCHES[os.uname()[4]]
        data = pack(build_program(arches, capability_names(cap_mask),
                                  kernel_at_least(os.uname()[2], (4, 8))))
        _PACKED[cap_mask] = data
    return data


def prepare(cap_mask):
    """Build ahead (in a long-lived parent) so that forked children only install."""
    if supported():
        packed_program(cap_mask)


def install_default(cap_mask):
    """Load the filter into the calling process (no_new_privs must already be set)."""
    if supported():
        syscalls.seccomp_set_filter(packed_program(cap_mask))
