#!/usr/bin/env python3
"""Host preparation on lab hosts: fresh converge, no-op re-run and check mode, for 1 and 3 hosts.

    .venv-legacy/bin/python bench/hostprep.py [--counts 1,3] [--runs 5]
    BERTH_BENCH_DOCKER_ROLE=/path/to/ansible-role-docker .venv-legacy/bin/python bench/hostprep.py

Runs playbooks/hosts.yml (docker_host, then docker_daemon) on fresh lab hosts, then re-runs it and
runs it in --check mode on the converged hosts (medians of --runs); the same medians are also taken
for a play of the docker_host role alone (the host preparation without daemon configuration).
When BERTH_BENCH_DOCKER_ROLE names a checkout of geerlingguy.docker (the most used Docker role),
the same is measured for it on other fresh hosts, with Debian's docker.io passed as role
parameters (no internet here), and the ratios are printed side by side. The role is only read
from that path; nothing of it is copied here.
Uses labs "benchhp" (172.28.246.0/24) and "benchgg" (172.28.245.0/24), removed afterwards.
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

ROLE_ONLY_PLAY = """\
- name: Prepare the Docker hosts (docker_host alone)
  hosts: docker_hosts
  gather_facts: false
  vars:
    ansible_python_interpreter: /usr/bin/python3
  roles:
    - role: docker_host
"""

# geerlingguy.docker with Debian's docker.io instead of Docker's repository
GEERLINGGUY_PLAY = """\
- name: Install Docker with geerlingguy.docker
  hosts: docker_hosts
  gather_facts: true
  roles:
    - role: {role}
      vars:
        docker_packages: [docker.io]
        docker_obsolete_packages: []
        docker_add_repo: false
        docker_install_compose_plugin: false
        docker_install_compose: false
"""


def lab(name, subnet, state, hosts):
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "playbooks/lab.yml",
            "-e", "lab_state=" + state, "-e", "lab_name=" + name, "-e", "lab_hosts=%d" % hosts,
            "-e", "lab_subnet=" + subnet]
    subprocess.run(argv, cwd=ROOT, env=ENV, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, "inventory", name + ".ini")


def timed(inventory, playbook, *extra, env=None):
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, playbook, *extra]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (" ".join(argv), proc.stdout[-4000:]))
    return elapsed


def measure(name, subnet, count, runs, playbook, env=None, also=None):
    """Fresh converge once, then the medians of no-op re-runs and check-mode runs.

    ``also`` is a second playbook whose no-op and check medians are taken on the same hosts.
    """
    lab(name, subnet, "absent", count)
    try:
        inventory = lab(name, subnet, "present", count)
        time.sleep(2)  # sshd in fresh hosts
        fresh = timed(inventory, playbook, env=env)
        timed(inventory, playbook, env=env)  # warm-up, not counted
        noop = statistics.median(timed(inventory, playbook, env=env) for _ in range(runs))
        check = statistics.median(timed(inventory, playbook, "--check", env=env) for _ in range(runs))
        extra = (None, None)
        if also:
            extra = (statistics.median(timed(inventory, also, env=env) for _ in range(runs)),
                     statistics.median(timed(inventory, also, "--check", env=env) for _ in range(runs)))
    finally:
        lab(name, subnet, "absent", count)
    return (fresh, noop, check) + extra


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,3")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    other = os.environ.get("BERTH_BENCH_DOCKER_ROLE")
    rows = []
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        other_play = other_env = None
        if other:
            other_play = os.path.join(tmp, "geerlingguy.yml")
            with open(other_play, "w") as handle:
                handle.write(GEERLINGGUY_PLAY.format(role=os.path.basename(os.path.abspath(other))))
            other_env = dict(ENV, ANSIBLE_ROLES_PATH=os.path.dirname(os.path.abspath(other)))
        role_only = os.path.join(tmp, "docker_host.yml")
        with open(role_only, "w") as handle:
            handle.write(ROLE_ONLY_PLAY)
        labels = ("fresh converge", "no-op re-run", "check mode (converged)",
                  "no-op re-run, docker_host alone", "check mode, docker_host alone")
        for count in [int(c) for c in args.counts.split(",")]:
            ours = measure("benchhp", "172.28.246.0/24", count, args.runs, "playbooks/hosts.yml", also=role_only)
            theirs = (measure("benchgg", "172.28.245.0/24", count, args.runs, other_play, other_env)[:3]
                      if other else (None, None, None))
            theirs = theirs + (theirs[1], theirs[2])  # the reference has no daemon step to leave out
            for label, mine, ref in zip(labels, ours, theirs):
                rows.append(("%d host(s): %s" % (count, label), mine, ref))
    print("%-46s %10s %14s %7s" % ("", "berth", "geerlingguy" if other else "", "ratio" if other else ""))
    for label, mine, ref in rows:
        if ref is None:
            print("%-46s %8.1f s" % (label, mine))
        else:
            print("%-46s %8.1f s %12.1f s %6.2fx" % (label, mine, ref, ref / mine))


if __name__ == "__main__":
    main()
