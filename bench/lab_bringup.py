#!/usr/bin/env python3
"""Lab bring-up time for 1, 3 and 10 hosts (cached base image), plus the no-op re-run and removal.

    .venv-legacy/bin/python bench/lab_bringup.py [--counts 1,3,10] [--cold]

--cold also times the first build of the base image (debootstrap + import) in a throw-away
cache. Uses a lab named "bench" on 172.28.248.0/24 and removes it afterwards. One run each:
the figures are for the README, not assertions.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def lab(state, hosts=1, *extra):
    argv = [PLAYBOOK, "-i", "localhost,", "playbooks/lab.yml", "-e", "lab_state=" + state, "-e", "lab_name=bench",
            "-e", "lab_hosts=%d" % hosts, "-e", "lab_subnet=172.28.248.0/24", *extra]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    started = time.monotonic()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,3,10")
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    rows = []
    lab("absent")
    if args.cold:
        cache = tempfile.mkdtemp(prefix="berth-bench-cache-")
        try:
            # The same mirror spelled with its port: a recipe no cache or engine holds yet.
            cold = ["-e", "lab_cache_dir=" + cache, "-e", "lab_mirror=http://deb.debian.org:80/debian"]
            rows.append(("cold: debootstrap + import + 1 host", lab("present", 1, *cold)))
        finally:
            lab("absent", 1, "-e", "lab_purge_cache=true", *cold)
            os.rmdir(cache)
    for count in [int(c) for c in args.counts.split(",")]:
        up = lab("present", count)
        again = lab("present", count)
        down = lab("absent", count)
        rows.append(("%d host(s): bring-up (ssh answering)" % count, up))
        rows.append(("%d host(s): no-op re-run" % count, again))
        rows.append(("%d host(s): removal" % count, down))
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print("%-*s  %6.1f s" % (width, name, seconds))


if __name__ == "__main__":
    main()
