#!/usr/bin/env python3
"""Drift check time against the no-op converge of the same hosts, for 1, 3 and 10 lab hosts.

    .venv-legacy/bin/python bench/drift.py [--counts 1,3,10]

For each count: bring up a lab named "bdrift" (172.28.245.0/24), converge it with
playbooks/hosts.yml, then time one no-op converge and one drift check (bin/berth-drift), both
with forks equal to the host count. One run each; the lab is removed at the end.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))


def timed(argv, ok=(0,)):
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, check=False)
    if proc.returncode not in ok:
        raise SystemExit("%s exited %d" % (" ".join(argv), proc.returncode))
    return time.monotonic() - started


def lab(state, count):
    return [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "playbooks/lab.yml", "-e", "lab_name=bdrift",
            "-e", "lab_subnet=172.28.245.0/24", "-e", "lab_hosts=%d" % count, "-e", "lab_state=" + state]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,3,10")
    args = parser.parse_args()
    inventory = os.path.join(ROOT, "inventory", "bdrift.ini")
    converge = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, "playbooks/hosts.yml"]
    ENV["BERTH_DRIFT_REPORT_DIR"] = tempfile.mkdtemp(prefix="berth-bench-drift-")
    print("%5s  %14s  %14s  %12s  %s" % ("hosts", "fresh converge", "no-op converge", "drift check", "ratio"))
    try:
        for count in [int(c) for c in args.counts.split(",")]:
            timed(lab("present", count))
            forks = ["-f", str(count)]
            fresh = timed(converge + forks)
            noop = timed(converge + forks)
            check = timed([sys.executable, os.path.join(ROOT, "bin", "berth-drift"), "-i", inventory, *forks])
            print("%5d  %12.1f s  %12.1f s  %10.1f s  %.2f" % (count, fresh, noop, check, check / noop))
            timed(lab("absent", count))  # the next count starts from fresh hosts
    finally:
        timed(lab("absent", 1))


if __name__ == "__main__":
    main()
