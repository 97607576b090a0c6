"""Docker's default seccomp profile on the real kernel: what a container may not call, what keeps
working, and --privileged running unconfined.

The busybox test image cannot make arbitrary syscalls, so a tiny static C probe is built with
the host's gcc and added to a variant of the image: ``probe NR[:ARG0[:ARG1]]...`` makes each
raw syscall and prints ``NR result errno``. The calls are chosen so that the filter's answer
differs from the kernel's own: unshare(0) and keyctl succeed for any root, clone3(NULL, 0) is
EINVAL and an unknown number ENOSYS without a filter. ``iNR`` makes the call through the i386
ABI (int $0x80), which the filter checks against the i386 table.
"""
import errno
import os
import platform
import shutil
import subprocess
import tarfile

import pytest

PROBE_C = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        long a[4] = {0, 0, 0, 0};
        char *p = argv[i];
        int i386 = (*p == 'i');  /* "iNR..." : the i386 ABI, int $0x80 from this 64-bit process */
        if (i386) p++;
        for (int j = 0; j < 4 && p && *p; j++) {
            a[j] = (long)strtoul(p, &p, 0);
            if (*p == ':') p++;
        }
        if (i386) {
            long r;
            __asm__ volatile ("int $0x80" : "=a"(r) : "a"(a[0]), "b"(a[1]), "c"(a[2]), "d"(a[3])
                              : "memory", "r8", "r9", "r10", "r11");
            if (r < 0 && r > -4096) printf("%s -1 %ld\n", argv[i], -r);
            else printf("%s %ld 0\n", argv[i], r);
            continue;
        }
        errno = 0;
        long r = syscall(a[0], a[1], a[2], a[3]);
        printf("%s %ld %d\n", argv[i], r, r == -1 ? errno : 0);
    }
    return 0;
}
"""

# x86_64 numbers (the generated table is checked against the headers by the unit tests)
UNSHARE, KEYCTL, BPF, MOUNT, CLONE3, PERSONALITY, GETPID = 272, 250, 321, 165, 435, 135, 39
KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING = 0, 0xFFFFFFFFFFFFFFFD
X32_GETPID = 0x40000000 | 39
MADE_UP = 987
I386_GETPID, I386_UNSHARE, I386_KEYCTL = 20, 310, 288  # the i386 table: Docker allow-lists it too
READ_IMPLIES_EXEC = 0x0400000

CALLS = {
    "unshare": "%d:0" % UNSHARE,
    "keyctl": "%d:%d:%d" % (KEYCTL, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING),
    "bpf": "%d:0:0:0" % BPF,
    "mount": "%d:0:0:0" % MOUNT,
    "clone3": "%d:0:0" % CLONE3,
    "personality": "%d:%d" % (PERSONALITY, READ_IMPLIES_EXEC),
    "x32": "%d" % X32_GETPID,
    "made_up": "%d" % MADE_UP,
    "getpid": "%d" % GETPID,
    "i386_getpid": "i%d" % I386_GETPID,
    "i386_unshare": "i%d:0" % I386_UNSHARE,
    "i386_keyctl": "i%d:%d:%d" % (I386_KEYCTL, KEYCTL_GET_KEYRING_ID, 0xFFFFFFFD),
}


@pytest.fixture(scope="session")
def probe_binary(tmp_path_factory):
    if platform.machine() != "x86_64":
        pytest.skip("the probe's syscall numbers are x86_64's; this machine is %s" % platform.machine())
    if not shutil.which("gcc") or not os.path.exists("/usr/lib/x86_64-linux-gnu/libc.a"):
        pytest.skip("needs gcc and a static glibc (Debian: gcc, libc6-dev) to build the syscall probe")
    directory = tmp_path_factory.mktemp("probe")
    source = directory / "probe.c"
    source.write_text(PROBE_C)
    binary = str(directory / "probe")
    subprocess.run(["gcc", "-static", "-O1", "-o", binary, str(source)], check=True)
    return binary


@pytest.fixture(scope="session")
def ia32(probe_binary):
    """Whether this kernel runs i386 syscalls (IA32 emulation); without it int $0x80 faults."""
    return subprocess.run([probe_binary, "i20"], stdout=subprocess.DEVNULL, check=False).returncode == 0


@pytest.fixture
def probe_image(env, image_tar, probe_binary, tmp_path):
    path = str(tmp_path / "probe.tar")
    with tarfile.open(image_tar) as source, tarfile.open(path, "w") as target:
        for info in source.getmembers():
            target.addfile(info, source.extractfile(info) if info.isfile() else None)
        info = target.gettarinfo(probe_binary, arcname="bin/probe")
        info.mode = 0o755
        with open(probe_binary, "rb") as handle:
            target.addfile(info, handle)
    env.berth("import", "-c", 'CMD ["sh"]', path, "probe:test")
    return "probe:test"


def probe(env, image, ia32, *run_options):
    calls = {name: spec for name, spec in CALLS.items() if ia32 or not name.startswith("i386_")}
    out = env.berth("run", "--rm", "--network", "none", *(list(run_options) + [image, "probe"]
                                                            + list(calls.values()))).stdout
    by_spec = {line.split()[0]: (int(line.split()[1]), int(line.split()[2])) for line in out.splitlines()}
    return {name: by_spec[spec] for name, spec in calls.items()}


def test_default_profile_denies_outside_the_allow_list(env, probe_image, ia32):
    results = probe(env, probe_image, ia32)
    for name in ("unshare", "keyctl", "bpf", "mount", "personality", "x32", "made_up"):
        assert results[name] == (-1, errno.EPERM), name
    assert results["clone3"] == (-1, errno.ENOSYS)  # so glibc falls back to clone
    assert results["getpid"] == (1, 0)
    if ia32:  # else this kernel has no i386 ABI for the filter to check
        assert results["i386_getpid"] == (1, 0)  # 32-bit programs keep working
        assert results["i386_unshare"] == (-1, errno.EPERM)
        assert results["i386_keyctl"] == (-1, errno.EPERM)


def test_privileged_runs_unconfined(env, probe_image, ia32):
    results = probe(env, probe_image, ia32, "--privileged")
    assert results["unshare"] == (0, 0)
    assert results["keyctl"][1] == 0 and results["keyctl"][0] != -1
    assert results["clone3"] == (-1, errno.EINVAL)
    assert results["made_up"] == (-1, errno.ENOSYS)
    assert results["personality"][1] == 0
    assert results["x32"][1] != errno.EPERM  # ENOSYS without x32 support, a pid with it
    assert results["getpid"] == (1, 0)
    if ia32:
        assert results["i386_unshare"] == (0, 0)
        assert results["i386_keyctl"][1] == 0 and results["i386_keyctl"][0] != -1
    status = env.berth("run", "--rm", "--network", "none", "--privileged", probe_image,
                       "grep", "^Seccomp:", "/proc/1/status").stdout
    assert status.split() == ["Seccomp:", "0"]


def test_pid_1_is_filtered_and_ordinary_programs_work(env, image):
    script = ("grep -E '^(Seccomp|NoNewPrivs):' /proc/1/status; ls / >/dev/null && echo ls-ok; "
              "ps -o pid,comm | grep -c sh; mkdir -p /tmp/www && echo served > /tmp/www/index.html; "
              "httpd -p 127.0.0.1:8080 -h /tmp/www; "
              "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://127.0.0.1:8080/ && break; sleep 0.2; done; "
              "(sleep 0 &) ; wait; echo done")
    out = env.berth("run", "--rm", "--network", "none", image, "sh", "-c", script).stdout.splitlines()
    assert out[0].split() == ["NoNewPrivs:", "1"]
    assert out[1].split() == ["Seccomp:", "2"]
    assert out[2] == "ls-ok"
    assert int(out[3]) >= 1
    assert out[4:] == ["served", "done"]


def test_exec_is_filtered_too(env, probe_image):
    env.berth("run", "-d", "--name", "sleeper", "--network", "none", probe_image, "sleep", "60")
    out = env.berth("exec", "sleeper", "probe", CALLS["unshare"], CALLS["getpid"]).stdout.split()
    assert out[1:3] == ["-1", str(errno.EPERM)]
    assert out[5] == "0"
