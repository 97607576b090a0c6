"""The lab fleet on the real engine: bring-up, reach over SSH, idempotence, refusals, removal."""
import os
import shutil
import subprocess
import tempfile

import pytest
from support.lab import BIN, ROOT, Lab, ansible_env, recap, run_ansible


def lab_traces(*names):
    """Everything labs of these names could leave behind: containers, networks, volumes, bridges,
    keys, inventories. Filtered by name, so other labs running at the same time do not count."""
    def lines(*argv):
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
        return sorted(item for item in out if any(name in item for name in names))
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {
        "containers": lines("docker", "ps", "-a", "--format", "{{.Names}}"),
        "networks": lines("docker", "network", "ls", "--format", "{{.Name}}"),
        "volumes": lines("docker", "volume", "ls", "--format", "{{.Name}}"),
        "bridges": sorted(line.split(":")[1].strip() for line in links.splitlines()
                          if any(line.split(":")[1].strip() == "blab-" + name for name in names)),
        "keys": sorted(k for k in os.listdir("/var/lib/berth-lab") if k in names)
        if os.path.isdir("/var/lib/berth-lab") else [],
        "inventories": sorted(i for i in os.listdir(os.path.join(ROOT, "inventory")) if i[:-4] in names),
    }


def container_ids(label_value):
    out = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter", "label=io.berth.lab=" + label_value],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


@pytest.mark.modern
def test_hosts_answer_ping_over_openssh_and_paramiko(lab):
    for connection in ("ssh", "paramiko"):
        proc = lab.adhoc("all", "-c", connection, "-m", "ansible.builtin.ping", "-o")
        answered = sorted(line.split()[0] for line in proc.stdout.splitlines() if '"ping": "pong"' in line)
        assert answered == lab.hosts, (connection, proc.stdout)


def test_hosts_boot_systemd_with_fixed_names_and_addresses(lab):
    for index, host in enumerate(lab.hosts, start=1):
        proc = lab.ssh(host, "hostname; cat /proc/1/comm; systemctl is-system-running --wait; "
                             "ip -4 -o addr show scope global | awk '{print $4}'")
        assert proc.stdout.split() == [host, "systemd", "running", lab.address(index) + "/24"]


def test_each_host_has_its_own_ssh_host_key(lab):
    keys = {lab.ssh(host, "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1] for host in lab.hosts}
    assert len(keys) == len(lab.hosts)


def test_network_sysctls_are_writable_inside_a_host(lab):
    proc = lab.ssh(lab.hosts[0], "sysctl -w net.ipv4.ip_forward=1 && cat /proc/sys/net/ipv4/ip_forward")
    assert proc.stdout.split()[-1] == "1"


def test_second_run_changes_nothing_and_check_mode_agrees(lab):
    again = run_ansible("ansible-playbook", *lab.playbook_args("present"))
    assert recap(again.stdout)["localhost"]["changed"] == 0
    assert "nothing to change" in again.stdout
    checked = run_ansible("ansible-playbook", "--check", *lab.playbook_args("present"))
    assert recap(checked.stdout)["localhost"]["changed"] == 0


def test_check_mode_predicts_a_new_host_without_making_it(lab):
    before = lab_traces(lab.name)
    bigger = Lab(lab.name, lab.count + 1, lab.subnet)
    proc = run_ansible("ansible-playbook", "--check", *bigger.playbook_args("present"))
    assert "create host %s4 at %s" % (lab.name, lab.address(4)) in proc.stdout
    assert recap(proc.stdout)["localhost"]["changed"] == 2  # the hosts and the inventory file
    assert lab_traces(lab.name) == before
    assert len(container_ids(lab.name)) == lab.count


def test_report_play_runs_against_the_lab(lab):
    # site.yml as a whole (host preparation included) is run by the drift tests' fixture.
    proc = lab.playbook("playbooks/report.yml")
    result = recap(proc.stdout)
    assert sorted(result) == lab.hosts
    assert all(counts["failed"] == 0 and counts["unreachable"] == 0 for counts in result.values())


@pytest.mark.parametrize("extra, message", [
    (["-e", "lab_hosts=0"], "lab_hosts must be a whole number from 1 to 50, got '0'"),
    (["-e", "lab_hosts=three"], "lab_hosts must be a whole number from 1 to 50, got 'three'"),
    (["-e", "lab_hosts=2.5"], "lab_hosts must be a whole number from 1 to 50, got '2.5'"),
    (["-e", "lab_state=sideways"], "lab_state must be present or absent, got sideways"),
    (["-e", "lab_subnet=172.28.251.0/24"], "collides with existing route(s) 172.28.251.0/24 via blab-e2e"),
    (["-e", "lab_subnet=8.8.8.0/24"], "must be a private IPv4 network"),
    (["-e", "lab_subnet=172.28.252.7/24"], "is not a network address in CIDR form"),
])
def test_bad_input_is_refused_and_changes_nothing(lab, extra, message):
    # lab (e2e, 172.28.251.0/24) is up, so its bridge route is there to collide with.
    before = lab_traces("clash", lab.name)
    args = ["-i", "localhost,", "playbooks/lab.yml", "-e", "lab_name=clash", "-e", "lab_subnet=172.28.252.0/24",
            *extra]
    proc = run_ansible("ansible-playbook", *args, check=False)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stdout
    assert lab_traces("clash", lab.name) == before


def test_debootstrap_failure_is_reported_and_leaves_nothing(lab):
    before = lab_traces("nomirror")
    cache = tempfile.mkdtemp(prefix="berth-lab-cache-")
    try:
        # Nothing listens on port 9 of loopback: the mirror is unreachable at once.
        proc = run_ansible("ansible-playbook", "-i", "localhost,", "playbooks/lab.yml", "-e", "lab_name=nomirror",
                           "-e", "lab_subnet=172.28.253.0/24", "-e", "lab_mirror=http://127.0.0.1:9/debian",
                           "-e", "lab_cache_dir=" + cache, check=False)
        assert proc.returncode == 2
        assert "debootstrap of Debian bookworm from http://127.0.0.1:9/debian failed" in proc.stdout
        assert os.listdir(cache) == []
        assert lab_traces("nomirror") == before
    finally:
        shutil.rmtree(cache)


def test_refused_when_not_root(lab):
    home = tempfile.mkdtemp(prefix="berth-nobody-")
    os.chmod(home, 0o777)
    try:
        before = lab_traces("nobody")
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                os.path.join(BIN, "ansible-playbook"),
                "-i", "localhost,", "playbooks/lab.yml", "-e", "lab_name=nobody", "-e", "lab_subnet=172.28.254.0/24"]
        env = ansible_env(HOME=home, ANSIBLE_LOCAL_TEMP=os.path.join(home, "tmp"),
                          ANSIBLE_REMOTE_TMP=os.path.join(home, "remote"))
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "the lab needs root" in proc.stdout
        assert lab_traces("nobody") == before
    finally:
        shutil.rmtree(home)


def test_absent_removes_everything_the_lab_made_and_nothing_else(lab):
    before = lab_traces("down")
    others = lab_traces(lab.name)
    extra = Lab("down", 2, "172.28.249.0/24")
    extra.up()
    during = lab_traces("down")
    assert during == {
        "containers": ["berth-down1", "berth-down2"], "networks": ["berth-down"],
        "volumes": ["berth-down1-docker", "berth-down2-docker"], "bridges": ["blab-down"],
        "keys": ["down"], "inventories": ["down.ini"],
    }
    ids = container_ids("down")
    assert len(ids) == 2
    extra.down()
    assert lab_traces("down") == before
    with open("/proc/self/mountinfo") as handle:
        assert not [line for line in handle if any(cid in line for cid in ids)]
    leftover = subprocess.run(["grep", "-l", "-r", "-s", "-e", ids[0], "-e", ids[1], "/proc/self/cgroup"],
                              capture_output=True, text=True, check=False)
    assert leftover.stdout == ""
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _in_container(p, ids)]
    # The other lab was not touched, and a second absent is a no-op.
    assert lab_traces(lab.name) == others
    again = run_ansible("ansible-playbook", *extra.playbook_args("absent"))
    assert recap(again.stdout)["localhost"]["changed"] == 0


def _in_container(pid, ids):
    try:
        with open("/proc/%s/cgroup" % pid) as handle:
            text = handle.read()
    except OSError:
        return False
    return any(cid in text for cid in ids)
