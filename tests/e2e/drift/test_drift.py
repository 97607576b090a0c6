"""Drift checks on a converged lab fleet: no false positives, exactly the injected drift,
unreachable hosts reported as such, nothing touched, and the HTML page renders in Chromium."""
import json
import os
import subprocess
import sys
import tempfile

import pytest
from support.lab import ROOT, ansible_env

# The inventory the fleet is converged with and checked against: hostnames from the inventory and
# a few daemon settings, so that daemon.json has keys berth owns.
HOSTNAME_VAR = ["-e", "docker_host_hostname={{ inventory_hostname }}", "-e", json.dumps({
    "docker_daemon_log_driver": "json-file",
    "docker_daemon_log_opts": {"max-size": "10m", "max-file": "3"},
    "docker_daemon_registry_mirrors": ["https://mirror.example.com"],
})]
# What a drift run must leave exactly as it was: file contents under /etc and the unit
# directories, installed packages, and the state of every service the roles manage.
FINGERPRINT = (
    "find /etc /lib/systemd/system /usr/lib/systemd/system -xdev -type f -print0 2>/dev/null | sort -z"
    " | xargs -0 sha256sum | sha256sum; dpkg-query -W | sha256sum;"
    " for u in docker.service docker.socket containerd.service netfilter-persistent.service firewalld.service; do"
    " echo $u $(systemctl is-active $u) $(systemctl is-enabled $u 2>/dev/null); done;"
    " stat -c '%a %U:%G' /var/run/docker.sock; hostname"
)


@pytest.fixture(scope="module")
def fleet(lab_factory):
    lab = lab_factory("drift", 3, "172.28.246.0/24")
    # The whole job, as `make demo` runs it: site.yml converges the fleet.
    lab.playbook("site.yml", *HOSTNAME_VAR)
    return lab


def drift(lab, *args):
    """Run bin/berth-drift against the lab; return (exit code, JSON report, stdout)."""
    reports = tempfile.mkdtemp(prefix="berth-drift-")
    env = ansible_env(BERTH_DRIFT_REPORT_DIR=reports)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "berth-drift"), "-i", lab.inventory,
                           *HOSTNAME_VAR, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    with open(os.path.join(reports, "latest", "report.json")) as handle:
        report = json.load(handle)
    report["_dir"] = os.path.join(reports, "latest")
    return proc.returncode, report, proc.stdout


def fingerprints(lab):
    return {host: lab.ssh(host, FINGERPRINT).stdout for host in lab.hosts}


def drifted(report):
    by_host = {}
    for item in report["items"]:
        by_host.setdefault(item["host"], set()).add(item["item"])
    return by_host


def findings(report, kind):
    return sorted(f["host"] for f in report["findings"] if f["finding"] == kind)


@pytest.mark.modern
def test_converged_fleet_is_in_sync_and_untouched(fleet):
    before = fingerprints(fleet)
    code, report, out = drift(fleet)
    assert code == 0, out
    assert {h: e["status"] for h, e in report["hosts"].items()} == {h: "in sync" for h in fleet.hosts}
    assert report["items"] == []
    assert fingerprints(fleet) == before
    # The runbook's own defaults are findings on every host, never drift.
    assert findings(report, "selinux_disabled") == fleet.hosts
    assert findings(report, "firewall_disabled") == fleet.hosts


def test_html_page_renders_the_matrix_in_chromium(fleet, tmp_path):
    _code, report, _out = drift(fleet)
    page = os.path.join(report["_dir"], "report.html")
    chromium = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=%s" % (tmp_path / "profile")]
    shot = str(tmp_path / "report.png")
    subprocess.run(chromium + ["--window-size=1400,900", "--screenshot=" + shot, "file://" + page],
                   capture_output=True, timeout=120, check=True)
    with open(shot, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(shot) > 10000
    dom = subprocess.run(chromium + ["--dump-dom", "file://" + page], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    matrix = dom[dom.index('<table id="matrix"'):dom.index("</table>")]
    assert 'data-hosts="3"' in matrix
    assert matrix.count("<tr>") == 1 + len(fleet.hosts)
    for host in fleet.hosts:
        assert '<td class="host">%s</td>' % host in matrix


INJECT = {
    # host index -> shell commands that make it drift (and what the report must say)
    1: "mkdir -p /etc/selinux && printf 'SELINUX=enforcing\\nSELINUXTYPE=targeted\\n' > /etc/selinux/config;"
       " sed -i 's/\"10m\"/\"50m\"/' /etc/docker/daemon.json;"
       " hostname renamed1 && echo renamed1 > /etc/hostname; chmod 0666 /var/run/docker.sock",
    2: "systemctl stop docker.service docker.socket; systemctl disable netfilter-persistent.service;"
       " printf '[Service]\\nExecStart=\\nExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2375\\n'"
       " > /etc/systemd/system/docker.service.d/zz-tcp.conf && systemctl daemon-reload",
    3: "DEBIAN_FRONTEND=noninteractive apt-get install -y -q netbase firewalld >/dev/null"
       " && systemctl start firewalld",
}
EXPECTED = {
    "drift1": {"docker_host : Set the SELinux mode", "docker_host : Set the hostname",
               "docker_daemon : Configure dockerd", "docker_daemon : Apply the docker daemon configuration"},
    # The extra drop-in is drift a real run refuses to repair by itself (it names the file).
    "drift2": {"docker_host : Start and enable docker", "docker_host : Start and enable the iptables service",
               "docker_daemon : Configure dockerd"},
    # A running firewalld stops the iptables service (its unit conflicts) and replaces docker's
    # chains, so the role would also restart both: three items, all caused by the injection.
    "drift3": {"docker_host : Stop and disable firewalld", "docker_host : Start and enable the iptables service",
               "docker_host : Restart a docker whose chains firewalld or the iptables service replaced"},
}


def test_injected_drift_is_reported_exactly_and_nothing_is_touched(fleet):
    for index, command in INJECT.items():
        fleet.ssh("drift%d" % index, command)
    before = fingerprints(fleet)
    code, report, out = drift(fleet)
    assert code == 2, out
    assert drifted(report) == EXPECTED
    assert findings(report, "docker_socket_mode") == ["drift1"]
    assert findings(report, "firewall_disabled") == ["drift1", "drift2"]
    assert findings(report, "tcp_without_tls") == ["drift2"]
    drop_in = [i for i in report["items"] if i["host"] == "drift2" and i["item"] == "docker_daemon : Configure dockerd"]
    assert "--- /etc/systemd/system/docker.service.d/zz-tcp.conf\n" in drop_in[0]["diff"]
    assert "-ExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2375\n" in drop_in[0]["diff"]
    assert fingerprints(fleet) == before
    # The terminal summary names each drifted host with its count.
    assert "drift1                   drifted, 4 items" in out
    daemon_json = [i for i in report["items"]
                   if i["host"] == "drift1" and i["item"] == "docker_daemon : Configure dockerd"]
    assert '-    "max-size": "50m"\n+    "max-size": "10m"\n' in daemon_json[0]["diff"]
    assert "drift3                   drifted, 3 items" in out


def test_package_removal_is_drift(fleet):
    fleet.ssh("drift3", "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q docker.io >/dev/null")
    code, report, out = drift(fleet, "--limit", "drift3")
    assert code == 2, out
    assert sorted(report["hosts"]) == ["drift3"]
    package_items = [i for i in report["items"]
                     if i["item"] == "docker_host : Report the package changes a real run would make"]
    assert len(package_items) == 1
    assert "would install: docker.io" in package_items[0]["diff"]


def test_a_stopped_host_is_unreachable_and_the_others_are_still_checked(fleet):
    subprocess.run(["docker", "stop", "-t", "5", "berth-drift2"], check=True, capture_output=True)
    try:
        code, report, out = drift(fleet)
    finally:
        fleet.up()
    assert code == 3, out
    assert report["hosts"]["drift2"]["status"] == "unreachable"
    assert report["hosts"]["drift1"]["status"] == "drifted"
    assert report["hosts"]["drift3"]["status"] == "drifted"
    assert "drift2                   unreachable" in out
