#!/usr/bin/env python3
"""Cost of berth's seccomp filter: build time, size, and the install in a forked child.

The program is built once per supervisor (and capability set) and forked
children only install it, so the figures that matter on the start path are the
install (prctl of a packed program) and, once per supervisor, the build.
Prints medians over --runs; the install is measured in forked children with
no_new_privs set, as in a container.

    python3 bench/seccomp_build.py [--runs 200]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils"))

from berth.runtime import syscalls  # noqa: E402
from berth.runtime.container import caps, seccomp, spec  # noqa: E402


def median_ms(samples):
    return statistics.median(samples) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    mask = caps.mask_of(spec.DEFAULT_CAPABILITIES)
    names = seccomp.capability_names(mask)
    for arches in (("X86_64", "I386"), ("AARCH64", "ARM")):
        builds = []
        for _ in range(args.runs):
            start = time.perf_counter()
            program = seccomp.build_program(arches, names)
            seccomp.pack(program)
            builds.append(time.perf_counter() - start)
        runs = sum(len(seccomp.segments(seccomp.policy(arch, names))) for arch in arches)
        print("%-16s build+pack %.2f ms   %d instructions (%d bytes), %d runs searched"
              % ("+".join(arches), median_ms(builds), len(program), 8 * len(program), runs))
    if not seccomp.supported():
        return
    seccomp.prepare(mask)
    installs = []
    for _ in range(min(args.runs, 100)):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            syscalls.set_no_new_privs()
            start = time.perf_counter()
            seccomp.install_default(mask)
            os.write(write_fd, repr(time.perf_counter() - start).encode())
            os._exit(0)
        os.close(write_fd)
        installs.append(float(os.read(read_fd, 64)))
        os.close(read_fd)
        os.waitpid(pid, 0)
    print("install in a forked child (prebuilt): %.3f ms" % median_ms(installs))
    with open("/proc/loadavg") as handle:
        print("load average: %s" % " ".join(handle.read().split()[:3]))


if __name__ == "__main__":
    main()
