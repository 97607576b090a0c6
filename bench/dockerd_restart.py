#!/usr/bin/env python3
"""Time from a changed dockerd setting to a healthy daemon, restart vs reload, on one lab host.

Side by side, on the same host and the same daemon.json:
  berth   berth_dockerd_config writes the change, berth_dockerd_apply restarts (a log option changed)
          or reloads (a registry mirror changed) and waits until dockerd answers with it; the figure
          is the module's own measure from the restart/reload to the health gate passing, and the
          wall time of both module calls over SSH.
  naive   what a runbook does by hand: edit daemon.json, `systemctl restart docker` (or reload), then
          poll `docker version` (or `docker info` for the mirror) until it answers; timed on the host.
          It gets `systemctl reset-failed` before each restart: back-to-back restarts otherwise hit
          docker.service's start limit (3 in 60 s) and fail, as berth's apply step never does.

    python bench/dockerd_restart.py [--rounds 5] [--down]

Uses the lab "dd" (172.28.247.0/24; brought up if missing, with Debian's docker.io); --down removes it.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from support.lab import Lab  # noqa: E402

HOST = "dd1"

NAIVE = r"""
import json, subprocess, sys, time
key, value, how = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
path = "/etc/docker/daemon.json"
config = json.load(open(path))
if key == "log-opts":
    config.setdefault("log-opts", {})["max-file"] = value
else:
    config[key] = value
start = time.time()
with open(path, "w") as handle:
    json.dump(config, handle, indent=2)
if how == "restart":
    # without this, the fourth restart within 60 s is refused by the unit's start limit
    subprocess.check_call(["systemctl", "reset-failed", "docker"])
subprocess.check_call(["systemctl", how, "docker"])
probe = ["docker", "version"]
if how == "reload":
    probe = ["docker", "info", "--format", "{{json .RegistryConfig.Mirrors}}"]
while True:
    proc = subprocess.run(probe, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
    if proc.returncode == 0 and (how == "restart" or json.loads(proc.stdout) == value):
        break
    time.sleep(0.05)
print("%.3f" % (time.time() - start))
"""


def module(lab, name, args):
    start = time.time()
    proc = lab.adhoc(HOST, "-m", name, "-a", json.dumps(args), "-o")
    wall = time.time() - start
    body = proc.stdout.split("=>", 1)[1].strip() if "=>" in proc.stdout else proc.stdout.split("|", 2)[-1]
    return json.loads(body), wall


def base_args(mirror, max_file):
    return {"registry_mirrors": [mirror], "log_driver": "json-file", "log_opts": {"max-size": "10m",
                                                                                  "max-file": str(max_file)}}


def berth_round(lab, args):
    config, wall_config = module(lab, "berth_dockerd_config", args)
    applied, wall_apply = module(lab, "berth_dockerd_apply", {"action": "auto"})
    return config["action"], applied["elapsed"], wall_config + wall_apply


def naive_round(lab, key, value, how):
    proc = lab.ssh(HOST, "python3 -c %s %s %s %s" % (shell_quote(NAIVE), shell_quote(key),
                                                    shell_quote(json.dumps(value)), how))
    return float(proc.stdout.strip())


def shell_quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--down", action="store_true", help="remove the lab afterwards")
    options = parser.parse_args()
    lab = Lab("dd", 2, "172.28.247.0/24")
    lab.up()
    lab.adhoc(HOST, "-m", "ansible.builtin.apt", "-a", "name=docker.io state=present update_cache=true")
    module(lab, "berth_dockerd_config", dict(base_args("https://m0.example.com", 2), exclusive=True))
    module(lab, "berth_dockerd_apply", {"action": "auto"})

    figures = {k: [] for k in ("berth restart", "berth restart wall", "naive restart",
                               "berth reload", "berth reload wall", "naive reload")}
    mirror, max_file = "https://m0.example.com", 2
    for i in range(options.rounds):
        max_file = 3 + i % 2
        action, elapsed, wall = berth_round(lab, base_args(mirror, max_file))
        assert action == "restart", action
        figures["berth restart"].append(elapsed)
        figures["berth restart wall"].append(wall)
        mirror = "https://m%d.example.com" % (1 + i % 2)
        action, elapsed, wall = berth_round(lab, base_args(mirror, max_file))
        assert action == "reload", action
        figures["berth reload"].append(elapsed)
        figures["berth reload wall"].append(wall)
    for i in range(options.rounds):
        figures["naive restart"].append(naive_round(lab, "log-opts", str(5 + i % 2), "restart"))
        figures["naive reload"].append(naive_round(lab, "registry-mirrors", ["https://n%d.example.com/" % (i % 2)],
                                                   "reload"))
    # leave the host as berth would have it
    module(lab, "berth_dockerd_config", dict(base_args("https://m0.example.com", 2), exclusive=True))
    module(lab, "berth_dockerd_apply", {"action": "restart"})

    med = {k: statistics.median(v) for k, v in figures.items()}
    print("dockerd on %s (%s), %d rounds, medians in seconds" % (HOST, lab.address(1), options.rounds))
    print("%-34s %8s %8s %8s" % ("", "berth", "naive", "ratio"))
    print("%-34s %8.3f %8.3f %8.2f" % ("restart -> healthy (on the host)", med["berth restart"],
                                       med["naive restart"], med["berth restart"] / med["naive restart"]))
    print("%-34s %8.3f %8.3f %8.2f" % ("reload -> new mirror in /info", med["berth reload"],
                                       med["naive reload"], med["berth reload"] / med["naive reload"]))
    print("%-34s %8.2f %8.2f" % ("restart / reload", med["berth restart"] / med["berth reload"],
                                 med["naive restart"] / med["naive reload"]))
    print("%-34s %8.3f %8.3f" % ("berth wall, both modules over SSH", med["berth restart wall"],
                                 med["berth reload wall"]))
    print("  (wall: restart, reload)")
    if options.down:
        lab.down()


if __name__ == "__main__":
    main()
