"""The seccomp program against Docker's profile, by running it in a small classic-BPF interpreter,
and the generated syscall tables against the kernel headers of this machine."""
import os
import re
import struct

import pytest
from berth.runtime.container import caps, seccomp, spec, syscall_numbers

ALLOW = seccomp.SECCOMP_RET_ALLOW
EPERM = seccomp.SECCOMP_RET_ERRNO | 1
ENOSYS = seccomp.SECCOMP_RET_ERRNO | 38
DEFAULT_CAPS = set(spec.DEFAULT_CAPABILITIES)
ALL_CAPS = set(caps.CAPABILITIES)
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000
FORK_FLAGS = 0x01200011  # CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, as glibc's fork
THREAD_FLAGS = 0x003D0F00  # pthread_create's


def run_bpf(program, arch, nr, arg0=0):
    """Execute ``program`` over one struct seccomp_data; only the opcodes berth emits."""
    data = struct.pack("<II Q 6Q", nr & 0xFFFFFFFF, arch, 0x1000, arg0, 0, 0, 0, 0, 0)
    pc, acc = 0, 0
    while True:
        assert 0 <= pc < len(program), "ran off the program"
        code, jt, jf, k = program[pc]
        if code == seccomp.BPF_LD_W_ABS:
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code == seccomp.BPF_JA:
            pc += 1 + k
        elif code == seccomp.BPF_RET_K:
            return k
        else:
            assert 0 <= jt <= 255 and 0 <= jf <= 255
            taken = {seccomp.BPF_JEQ_K: acc == k, seccomp.BPF_JGE_K: acc >= k,
                     seccomp.BPF_JSET_K: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)


def expected(arch, name, capabilities, modern_kernel=True, arg0=0):
    """Docker's profile read literally from the module's data (the program is compiled from it)."""
    admin = "CAP_SYS_ADMIN" in capabilities
    if name == "personality":
        return ALLOW if arg0 in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF) else EPERM
    if name == "socket":
        return EPERM if arg0 in (38, 40) else ALLOW
    if name == "clone" and not admin:
        return EPERM if arg0 & 0x7E020000 else ALLOW
    if name == "clone3" and not admin:
        return ENOSYS
    allowed = set(seccomp.ALLOWED) | set(seccomp.ALLOWED_ON_ARCH[arch])
    if modern_kernel:
        allowed |= set(seccomp.ALLOWED_FROM_KERNEL_4_8)
    for capability, names in seccomp.ALLOWED_WITH_CAPABILITY:
        if capability in capabilities:
            allowed |= set(names)
    return ALLOW if name in allowed else EPERM


MACHINES = [("X86_64", "I386"), ("AARCH64", "ARM")]
CAPABILITY_SETS = [DEFAULT_CAPS, ALL_CAPS, set(), DEFAULT_CAPS | {"CAP_SYS_PTRACE", "CAP_SYS_TIME"}]


@pytest.mark.parametrize("arches", MACHINES, ids=lambda a: a[0])
@pytest.mark.parametrize("capabilities", CAPABILITY_SETS, ids=["default", "all", "none", "ptrace+time"])
def test_every_syscall_of_every_arch_gets_the_profiles_verdict(arches, capabilities):
    program = seccomp.build_program(arches, capabilities)
    assert len(program) <= seccomp.MAX_INSTRUCTIONS
    for arch in arches:
        table = getattr(syscall_numbers, arch)
        for name, number in table.items():
            for arg0 in (0, FORK_FLAGS, THREAD_FLAGS, CLONE_NEWUSER, 8, 38, 39, 40, 0xFFFFFFFF):
                got = run_bpf(program, seccomp.AUDIT_ARCH[arch], number, arg0)
                assert got == expected(arch, name, capabilities, arg0=arg0), (arch, name, hex(arg0))


def test_docker_defaults_for_well_known_calls_on_x86_64():
    program = seccomp.build_program(("X86_64", "I386"), DEFAULT_CAPS)
    x86_64 = seccomp.AUDIT_ARCH["X86_64"]
    nr = syscall_numbers.X86_64
    for name in ("unshare", "keyctl", "bpf", "mount", "setns", "kexec_load", "open_by_handle_at",
                 "init_module", "add_key", "perf_event_open", "umount2", "reboot", "swapon",
                 "io_uring_setup"):
        assert run_bpf(program, x86_64, nr[name]) == EPERM, name
    for name in ("read", "execve", "openat", "chroot", "arch_prctl", "ptrace",
                 "fchmodat2", "setuid", "mknodat"):
        assert run_bpf(program, x86_64, nr[name]) == ALLOW, name
    assert run_bpf(program, x86_64, nr["clone3"]) == ENOSYS
    assert run_bpf(program, x86_64, nr["clone"], FORK_FLAGS) == ALLOW
    for flag in (CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET):
        assert run_bpf(program, x86_64, nr["clone"], FORK_FLAGS | flag) == EPERM
    assert run_bpf(program, x86_64, nr["personality"], 0x0400000) == EPERM  # READ_IMPLIES_EXEC
    assert run_bpf(program, x86_64, nr["personality"], 0xFFFFFFFF) == ALLOW


def test_x32_foreign_arches_and_unknown_numbers_are_denied():
    program = seccomp.build_program(("X86_64", "I386"), ALL_CAPS)
    x86_64 = seccomp.AUDIT_ARCH["X86_64"]
    for number in (seccomp.X32_SYSCALL_BIT | 0, seccomp.X32_SYSCALL_BIT | 39, 1000, 0x3FFFFFFF,
                   0xFFFFFFFF, max(syscall_numbers.X86_64.values()) + 1):
        assert run_bpf(program, x86_64, number) == EPERM, hex(number)
    for arch in ("AARCH64", "ARM"):
        assert run_bpf(program, seccomp.AUDIT_ARCH[arch], 0) == EPERM
    assert run_bpf(program, 0xC000003F, 39) == EPERM


def test_ptrace_waits_for_kernel_4_8_unless_cap_sys_ptrace():
    old = seccomp.build_program(("X86_64", "I386"), DEFAULT_CAPS, modern_kernel=False)
    x86_64 = seccomp.AUDIT_ARCH["X86_64"]
    assert run_bpf(old, x86_64, syscall_numbers.X86_64["ptrace"]) == EPERM
    traced = seccomp.build_program(("X86_64", "I386"), DEFAULT_CAPS | {"CAP_SYS_PTRACE"}, False)
    assert run_bpf(traced, x86_64, syscall_numbers.X86_64["ptrace"]) == ALLOW
    assert seccomp.kernel_at_least("4.8.0-1", (4, 8))
    assert seccomp.kernel_at_least("6.18.44-fc-v769", (4, 8))
    assert not seccomp.kernel_at_least("3.10.0-1160.el7.x86_64", (4, 8))


def test_far_jumps_hop_through_ja():
    """A search over more runs than an 8-bit jump can span still decides every number."""
    runs = [(2 * i, seccomp.ALLOW if i % 2 else seccomp.DENY) for i in range(600)]
    asm = seccomp._Assembler()
    asm.emit(seccomp.BPF_LD_W_ABS, seccomp.OFFSET_NR)
    seccomp._emit_search(asm, runs, {})
    program = asm.assemble()
    assert any(code == seccomp.BPF_JA for code, _, _, _ in program)
    for number in range(0, 1300):
        want = ALLOW if min(number // 2, 599) % 2 else EPERM
        assert run_bpf(program, 0, number) == want, number


def test_segments_cover_runs():
    verdicts = {0: seccomp.ALLOW, 1: seccomp.ALLOW, 5: seccomp.CHECK_CLONE, 6: seccomp.ALLOW}
    assert seccomp.segments(verdicts) == [(0, seccomp.ALLOW), (2, seccomp.DENY), (5, seccomp.CHECK_CLONE),
                                          (6, seccomp.ALLOW), (7, seccomp.DENY)]


def test_pack_is_struct_sock_filter():
    assert seccomp.pack([(0x06, 1, 2, 0x7FFF0000)]) == struct.pack("=HBBI", 6, 1, 2, 0x7FFF0000)
    assert len(seccomp.pack([(0x20, 0, 0, 4)] * 3)) == 24


def test_known_numbers():
    """Kernel ABI facts: a regenerated table that disagrees is wrong."""
    assert [syscall_numbers.X86_64[n] for n in ("read", "mount", "unshare", "keyctl", "bpf", "clone3")] \
        == [0, 165, 272, 250, 321, 435]
    assert [syscall_numbers.I386[n] for n in ("exit", "clone", "socketcall", "mmap2", "unshare")] \
        == [1, 120, 102, 192, 310]
    assert [syscall_numbers.AARCH64[n] for n in ("mount", "unshare", "clone", "personality", "openat")] \
        == [40, 97, 220, 92, 56]
    assert [syscall_numbers.ARM[n] for n in ("clone", "set_tls", "breakpoint", "socket")] \
        == [120, 0xF0005, 0xF0001, 281]
    assert "open" not in syscall_numbers.AARCH64 and "fcntl64" not in syscall_numbers.AARCH64


HEADERS = [
    ("X86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    ("I386", "/usr/include/x86_64-linux-gnu/asm/unistd_32.h"),
    ("AARCH64", "/usr/include/asm-generic/unistd.h"),
]


@pytest.mark.parametrize("arch,header", HEADERS, ids=[h[0] for h in HEADERS])
def test_tables_match_this_machines_headers(arch, header):
    if not os.path.exists(header):
        pytest.skip("kernel header %s not installed (Debian: linux-libc-dev)" % header)
    with open(header) as handle:
        defines = dict(re.findall(r"^#define __NR_(\w+)\s+(\d+)\s*$", handle.read(), re.M))
    table = getattr(syscall_numbers, arch)
    both = [name for name in defines if name in table]
    assert len(both) > 250
    for name in both:
        assert table[name] == int(defines[name]), name
    if arch != "AARCH64":  # asm-generic's list has branches arm64 does not take
        assert set(defines) <= set(table)
