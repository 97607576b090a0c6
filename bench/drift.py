#!/usr/bin/env python3
"""Drift check time against the no-op converge of the same hosts, for 1, 3 and 10 lab hosts.

    .venv-legacy/bin/python bench/drift.py [--counts 1,3,10] [--rounds 3]

For each count: bring up a lab named "bdrift" (172.28.245.0/24), converge it with
playbooks/hosts.yml, then time the no-op converge and the drift check (bin/berth-drift),
alternating, --rounds times each, both with forks equal to the host count; medians are printed
(alternating keeps a change in the machine's load from favouring one side). The lab is removed
at the end.
"""
import argparse
import os
import statistics
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
    parser.add_argument("--rounds", type=int, default=3)
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
            noops, checks = [], []
            for _ in range(args.rounds):
                noops.append(timed(converge + forks))
                checks.append(timed([sys.executable, os.path.join(ROOT, "bin", "berth-drift"), "-i", inventory,
                                     *forks]))
            noop, check = statistics.median(noops), statistics.median(checks)
            print("%5d  %12.1f s  %12.2f s  %10.2f s  %.2f   (no-op %s; drift %s)" % (
                count, fresh, noop, check, check / noop, " ".join("%.2f" % t for t in noops),
                " ".join("%.2f" % t for t in checks)), flush=True)
            timed(lab("absent", count))  # the next count starts from fresh hosts
    finally:
        timed(lab("absent", 1))


if __name__ == "__main__":
    main()
