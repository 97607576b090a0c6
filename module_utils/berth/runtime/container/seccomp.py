"""A default seccomp filter: a hand-built classic BPF deny list, loaded via prctl.

Docker compiles a large allow list with libseccomp; berth has no libseccomp, so
it denies (EPERM) the syscalls Docker's default profile keeps from an
unprivileged container: kernel modules, kexec, keyrings, bpf, perf, the
open_by_handle_at escape, mount API, namespaces, clocks, swap, reboot,
io_uring, NUMA and cross-process memory calls. Syscall numbers are per
architecture by nature; x86_64 is covered, other architectures run without the
filter and say so in the container record.
"""
import platform

from .. import syscalls

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1

BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_RET_K = 0x06

DENIED_X86_64 = {
    "uselib": 134, "personality_unused": 135, "ustat": 136, "_sysctl": 156, "vhangup": 153,
    "pivot_root": 155, "adjtimex": 159, "acct": 163, "settimeofday": 164, "mount": 165,
    "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173,
    "create_module": 174, "init_module": 175, "delete_module": 176, "get_kernel_syms": 177,
    "query_module": 178, "quotactl": 179, "nfsservctl": 180, "lookup_dcookie": 212,
    "clock_settime": 227, "mbind": 237, "set_mempolicy": 238, "get_mempolicy": 239,
    "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250, "migrate_pages": 256,
    "unshare": 272, "move_pages": 279, "perf_event_open": 298, "fanotify_init": 300,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "clock_adjtime": 305, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "finit_module": 313,
    "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
}


def build_program(denied):
    """[(code, jt, jf, k)]: wrong arch or x32 -> EPERM; listed nr -> EPERM; else allow."""
    numbers = sorted(set(denied.values()))
    program = [(BPF_LD_W_ABS, 0, 0, 4)]
    # after the arch check come: ld nr, jge x32, len(numbers) jeq, ret allow, ret deny
    body_length = 2 + len(numbers) + 1
    program.append((BPF_JEQ_K, 0, body_length, AUDIT_ARCH_X86_64))
    program.append((BPF_LD_W_ABS, 0, 0, 0))
    remaining = len(numbers)
    program.append((BPF_JGE_K, remaining + 1, 0, X32_SYSCALL_BIT))
    for index, number in enumerate(numbers):
        program.append((BPF_JEQ_K, remaining - index, 0, number))
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM))
    return program


def supported():
    return platform.machine() == "x86_64"


def install_default():
    """Load the filter into the calling process (no_new_privs must already be set)."""
    if supported():
        syscalls.seccomp_set_filter(build_program(DENIED_X86_64))
