"""inventory.example stays true: it parses, and every variable it sets is one a role or play reads."""
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def example_host_vars():
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i",
                          os.path.join(ROOT, "inventory.example"), "--host", "docker01.example.com"],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out)


def role_defaults(role):
    with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml")) as handle:
        return yaml.safe_load(handle)


def test_example_groups_hosts_by_function():
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i",
                          os.path.join(ROOT, "inventory.example"), "--list"],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    groups = json.loads(out)
    assert groups["docker_hosts"]["hosts"] == ["docker01.example.com", "docker02.example.com"]
    assert groups["registries"]["hosts"] == ["registry01.example.com"]


def test_every_example_variable_is_read_by_a_role_or_the_fleet_play():
    with open(os.path.join(ROOT, "playbooks", "hosts.yml")) as handle:
        fleet_play = handle.read()
    known = {
        "docker_host_": set(role_defaults("docker_host")),
        "docker_daemon_": set(role_defaults("docker_daemon")),
    }
    for name in example_host_vars():
        if name.startswith("ansible_"):
            continue
        if name.startswith("docker_hosts_"):
            assert name in fleet_play, name
            continue
        prefix = next(p for p in known if name.startswith(p))
        assert name in known[prefix], "%s is not a variable of role %s" % (name, prefix.rstrip("_"))
