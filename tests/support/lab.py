"""Helpers for tests that drive Ansible against the lab fleet (real hosts over SSH)."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def ansible_env(**extra):
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", PATH=BIN + os.pathsep + env.get("PATH", ""))
    env.update(extra)
    return env


def run_ansible(tool, *args, check=True, env=None):
    """Run ansible / ansible-playbook from this lane's virtual environment, in the repository."""
    argv = [os.path.join(BIN, tool), *args]
    proc = subprocess.run(argv, cwd=ROOT, env=env or ansible_env(), capture_output=True, text=True,
                          timeout=1800, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(argv), proc.returncode,
                                                          proc.stdout[-6000:], proc.stderr[-3000:]))
    return proc


def recap(output):
    """PLAY RECAP as {host: {"ok":..,"changed":..,"unreachable":..,"failed":..}}."""
    return {m.group(1): dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups()[1:])))
            for m in RECAP.finditer(output)}


class Lab:
    def __init__(self, name, hosts, subnet):
        self.name, self.count, self.subnet = name, hosts, subnet
        self.inventory = os.path.join(ROOT, "inventory", name + ".ini")

    def playbook_args(self, state="present", *extra):
        return ["-i", "localhost,", "playbooks/lab.yml", "-e", "lab_state=" + state, "-e", "lab_name=" + self.name,
                "-e", "lab_hosts=%d" % self.count, "-e", "lab_subnet=" + self.subnet, *extra]

    def up(self):
        return run_ansible("ansible-playbook", *self.playbook_args("present"))

    def down(self):
        return run_ansible("ansible-playbook", *self.playbook_args("absent"))

    @property
    def hosts(self):
        return ["%s%d" % (self.name, i) for i in range(1, self.count + 1)]

    def address(self, index):
        base = self.subnet.split("/")[0].rsplit(".", 1)[0]
        return "%s.%d" % (base, 10 + index)

    def playbook(self, *args, check=True):
        return run_ansible("ansible-playbook", "-i", self.inventory, *args, check=check)

    def adhoc(self, pattern, *args, check=True):
        return run_ansible("ansible", pattern, "-i", self.inventory, *args, check=check)

    def ssh(self, host, command, check=True):
        """Run a shell command on a lab host over OpenSSH with the lab key; return the process."""
        index = int(host[len(self.name):])
        argv = ["ssh", "-i", "/var/lib/berth-lab/%s/id_ed25519" % self.name, "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
                "root@" + self.address(index), command]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        if check and proc.returncode != 0:
            raise AssertionError("ssh %s %r failed (%d): %s" % (host, command, proc.returncode, proc.stderr))
        return proc


