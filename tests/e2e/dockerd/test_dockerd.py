"""docker_daemon on lab hosts with a real dockerd (Debian's docker.io 20.10): every runbook flag from
inventory variables, idempotence, check/diff, refusals that touch nothing, rollback, reload, TLS.

The tests share one two-host lab and run in file order: the first converges both hosts, the others
start from that state and leave it behind. The modern lane runs the first two (converge, TLS).
"""
import http.client
import json
import os
import re
import socket
import ssl
import time

import pytest
from support.lab import recap

HOST = "dd1"
ADDRESS_INDEX = 1
PORT = 2376
RUNBOOK = {
    "docker_daemon_tcp": "0.0.0.0:%d" % PORT,
    "docker_daemon_registry_mirrors": ["https://mirror.example.com"],
    "docker_daemon_insecure_registries": ["registry01.example.com:5000"],
    "docker_daemon_selinux_enabled": True,
    "docker_daemon_bip": "172.31.0.1/24",
    "docker_daemon_http_proxy": "http://build:s3cret@proxy.example.com:3128",
    "docker_daemon_https_proxy": "http://proxy.example.com:3128",
    "docker_daemon_no_proxy": "localhost,127.0.0.1,.example.com",
    "docker_daemon_live_restore": True,
    "docker_daemon_log_driver": "json-file",
    "docker_daemon_log_opts": {"max-size": "10m", "max-file": 3},
}
LIVE_FILES = "/etc/docker/daemon.json /etc/systemd/system/docker.service.d/berth.conf"


@pytest.fixture(scope="module")
def dd(lab_factory, tmp_path_factory):
    lab = lab_factory("dd", 2, "172.28.247.0/24")
    lab.adhoc("docker_hosts", "-m", "ansible.builtin.apt", "-a", "name=docker.io state=present update_cache=true")
    # a lab kept from an earlier run starts over from the packaged configuration
    lab.adhoc("docker_hosts", "-m", "ansible.builtin.shell", "-a",
              "rm -rf %s /var/lib/berth/dockerd /etc/docker/tls && systemctl daemon-reload "
              "&& systemctl restart docker" % LIVE_FILES)
    lab.tls_dir = str(tmp_path_factory.mktemp("dd-tls"))
    return lab


def play(lab, *args, check=True, **overrides):
    variables = dict(RUNBOOK, docker_daemon_tls_local_dir=lab.tls_dir)
    variables.update(overrides)
    return lab.playbook("playbooks/daemon.yml", "-e", json.dumps(variables), *args, check=check)


def info(lab, host=HOST):
    return json.loads(lab.ssh(host, "docker info --format '{{json .}}'").stdout)


def live_state(lab, host=HOST):
    """The managed files' checksums, dockerd's pid and state, and whether a change is pending."""
    out = lab.ssh(host, "sha256sum %s; systemctl show docker -p MainPID -p ActiveState; "
                        "ls /var/lib/berth/dockerd/pending.json 2>&1 || true" % LIVE_FILES).stdout
    return out


def daemon_starts(lab, since, host=HOST):
    """How many times dockerd finished starting since the epoch second ``since``."""
    out = lab.ssh(host, "journalctl -u docker --since @%d -o cat --no-pager | "
                        "grep -c 'Daemon has completed initialization' || true" % since).stdout
    return int(out.strip() or 0)


def now(lab, host=HOST):
    return int(lab.ssh(host, "date +%s").stdout)


def tls_get(lab, path, client_cert=True):
    context = ssl.create_default_context(cafile=os.path.join(lab.tls_dir, "ca.pem"))
    if client_cert:
        context.load_cert_chain(os.path.join(lab.tls_dir, "cert.pem"), os.path.join(lab.tls_dir, "key.pem"))
    conn = http.client.HTTPSConnection(lab.address(ADDRESS_INDEX), PORT, context=context, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.modern
def test_runbook_flags_from_inventory_variables_reach_dockerd(dd):
    # Count from the next whole second, and start the play after it: the fixture's own restart of
    # docker may have logged its start within the current second (journalctl --since is per second).
    since = max(now(dd, "dd1"), now(dd, "dd2")) + 1
    time.sleep(1.1)
    proc = play(dd)
    assert {h: r["failed"] for h, r in recap(proc.stdout).items()} == {"dd1": 0, "dd2": 0}
    assert "s3cret" not in proc.stdout
    for host in ("dd1", "dd2"):
        engine = info(dd, host)
        assert engine["RegistryConfig"]["Mirrors"] == ["https://mirror.example.com/"]
        assert engine["RegistryConfig"]["IndexConfigs"]["registry01.example.com:5000"]["Secure"] is False
        assert engine["HttpProxy"] == "http://xxxxx:xxxxx@proxy.example.com:3128"
        assert engine["HttpsProxy"] == "http://proxy.example.com:3128"
        assert engine["NoProxy"] == "localhost,127.0.0.1,.example.com"
        assert engine["LiveRestoreEnabled"] is True
        assert engine["LoggingDriver"] == "json-file"
        # --selinux-enabled: asked for and accepted; this kernel has no SELinux, so dockerd runs without it
        assert json.loads(dd.ssh(host, "cat /etc/docker/daemon.json").stdout)["selinux-enabled"] is True
        assert "name=selinux" not in engine["SecurityOptions"]
        assert dd.ssh(host, "ip -4 -o addr show docker0").stdout.split()[3] == "172.31.0.1/24"
        assert dd.ssh(host, "stat -c '%a %U' /etc/docker/tls/server-key.pem /etc/docker/tls/server.pem "
                            "/etc/systemd/system/docker.service.d/berth.conf /etc/docker/daemon.json"
                      ).stdout.split("\n")[:4] == ["400 root", "444 root", "600 root", "600 root"]
        listening = dd.ssh(host, "ss -Hltnx | awk '{print $5}'").stdout.split()
        assert "/var/run/docker.sock" in listening or "/run/docker.sock" in listening
        assert "*:%d" % PORT in listening
        # many settings changed on a host that had none: one handler run, one dockerd start
        assert daemon_starts(dd, since, host) == 1


@pytest.mark.modern
def test_tls_port_answers_a_client_certificate_and_refuses_anyone_else(dd):
    status, version = tls_get(dd, "/version")
    assert status == 200
    assert version["Version"].startswith("20.10.")
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        tls_get(dd, "/version", client_cert=False)
    with socket.create_connection((dd.address(ADDRESS_INDEX), PORT), timeout=10) as plain:
        plain.sendall(b"GET /version HTTP/1.0\r\n\r\n")
        answer = plain.recv(4096)
    assert answer.startswith(b"HTTP/1.0 400 Bad Request")
    assert b"Client sent an HTTP request to an HTTPS server" in answer


def test_second_run_changes_nothing_and_check_diff_shows_nothing(dd):
    before = live_state(dd)
    proc = play(dd)
    assert {h: (r["changed"], r["failed"]) for h, r in recap(proc.stdout).items()} == {"dd1": (0, 0), "dd2": (0, 0)}
    assert "RUNNING HANDLER" not in proc.stdout
    check = play(dd, "--check", "--diff")
    assert {h: (r["changed"], r["failed"]) for h, r in recap(check.stdout).items()} == {"dd1": (0, 0), "dd2": (0, 0)}
    assert not re.search(r"^(---|\+\+\+) ", check.stdout, re.M)
    assert live_state(dd) == before


def test_hand_edit_shows_exactly_the_edited_key(dd):
    dd.ssh(HOST, "python3 -c \"import json; p='/etc/docker/daemon.json'; d=json.load(open(p)); "
                 "d['bip']='172.31.9.1/24'; open(p,'w').write(json.dumps(d))\"")
    check = play(dd, "--check", "--diff", "-l", HOST)
    # the config task and the handler that would restart dockerd
    assert recap(check.stdout)[HOST]["changed"] == 2
    changed = [line for line in check.stdout.splitlines() if re.match(r"^[-+] ", line)]
    assert changed == ['-  "bip": "172.31.9.1/24"', '+  "bip": "172.31.0.1/24"']
    assert "--- before: /etc/docker/daemon.json (changed keys)" in check.stdout
    fixed = play(dd, "-l", HOST)
    assert recap(fixed.stdout)[HOST]["failed"] == 0
    assert json.loads(dd.ssh(HOST, "cat /etc/docker/daemon.json").stdout)["bip"] == "172.31.0.1/24"


REFUSALS = [
    ("bip_and_bridge", {"docker_daemon_bridge": "br0"},
     "bip: bip and bridge are mutually exclusive"),
    ("bip_network_address", {"docker_daemon_bip": "172.31.0.0/24"},
     "bip: '172.31.0.0/24' is the network address; bip is the bridge's gateway address: write 172.31.0.1/24"),
    ("malformed_cidr", {"docker_daemon_default_address_pools": [{"base": "10.200.0.1/16", "size": 24}]},
     "default_address_pools[0]: '10.200.0.1/16' is not a network in CIDR form"),
    ("malformed_mirror", {"docker_daemon_registry_mirrors": ["mirror.example.com"]},
     "registry_mirrors: 'mirror.example.com' is not an http:// or https:// URL"),
    ("registry_with_scheme", {"docker_daemon_insecure_registries": ["http://registry01.example.com:5000"]},
     "insecure_registries: 'http://registry01.example.com:5000' must not contain a scheme; "
     "write registry01.example.com:5000"),
    ("tcp_without_tls", {"docker_daemon_tls_generate": False},
     "tcp: tcp://0.0.0.0:2376 without TLS gives anyone who reaches the port root on the host (CIS Docker 2.7)"),
    ("tls_file_missing", {"docker_daemon_tls_generate": False, "docker_daemon_tls_ca_cert": "/etc/docker/tls/ca.pem",
                          "docker_daemon_tls_cert": "/etc/docker/tls/missing.pem",
                          "docker_daemon_tls_key": "/etc/docker/tls/server-key.pem"},
     "tls_cert: /etc/docker/tls/missing.pem cannot be read (No such file or directory)"),
    ("tls_key_readable_by_others", {"docker_daemon_tls_generate": False,
                                    "docker_daemon_tls_ca_cert": "/etc/docker/tls/ca.pem",
                                    "docker_daemon_tls_cert": "/etc/docker/tls/server.pem",
                                    "docker_daemon_tls_key": "/root/open-key.pem"},
     "tls_key: /root/open-key.pem has mode 0644: others can read dockerd's private key; chmod 0400"),
    ("key_unknown_to_engine", {"docker_daemon_options": {"default-network-opts": {"bridge": {"mtu": "1400"}}}},
     "default-network-opts: 'default-network-opts' needs Docker Engine 24.0 or newer (this host has 20.10.24)"),
    ("flag_and_file", {"docker_daemon_options": {"containerd": "/run/containerd/containerd.sock"}},
     "containerd: set both as a dockerd flag in docker.service"),
]


@pytest.mark.parametrize("overrides,message", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_refusal_touches_neither_files_nor_daemon(dd, overrides, message):
    dd.ssh(HOST, "install -m 0644 /etc/docker/tls/server-key.pem /root/open-key.pem")
    before = live_state(dd)
    proc = play(dd, "-l", HOST, check=False, **overrides)
    assert recap(proc.stdout)[HOST]["failed"] == 1
    assert "Refused to change the docker daemon configuration, nothing was written: " + message in proc.stdout
    assert "RUNNING HANDLER" not in proc.stdout
    assert live_state(dd) == before
    assert "ActiveState=active" in before


def test_daemon_that_fails_to_start_is_rolled_back(dd):
    before = live_state(dd)
    good = dd.ssh(HOST, "cat /etc/docker/daemon.json").stdout
    # btrfs is a real storage driver, so every check passes; dockerd only fails when it starts here
    proc = play(dd, "-l", HOST, check=False, docker_daemon_storage_driver="btrfs")
    assert recap(proc.stdout)[HOST]["failed"] == 1
    assert "dockerd restart with the new configuration failed (docker.service failed to start" in proc.stdout
    assert ("dockerd said: failed to start daemon: error initializing graphdriver: prerequisites for driver "
            "not satisfied (wrong filesystem?)") in proc.stdout
    assert "The previous configuration was restored and docker is running on it again." in proc.stdout
    assert dd.ssh(HOST, "cat /etc/docker/daemon.json").stdout == good
    after = live_state(dd)
    assert after.split("\n")[:2] == before.split("\n")[:2]
    assert "ActiveState=active" in after
    assert "No such file" in after
    engine = info(dd)
    assert engine["Driver"] == "overlay2"
    assert engine["RegistryConfig"]["Mirrors"] == ["https://mirror.example.com/"]
    again = play(dd, "-l", HOST)
    assert recap(again.stdout)[HOST]["changed"] == 0


SLEEPER = ("set -e; rm -rf /tmp/rootfs; mkdir -p /tmp/rootfs; "
           "cp --parents /bin/sleep $(ldd /bin/sleep | grep -o '/[^ ]*') /tmp/rootfs; "
           "tar -C /tmp/rootfs -c . | docker import - berth-test/sleep >/dev/null; "
           "docker rm -f sleeper >/dev/null 2>&1 || true; "
           "docker run -d --name sleeper --network none berth-test/sleep /bin/sleep 100000 >/dev/null; "
           "docker inspect -f '{{.State.StartedAt}} {{.State.Pid}}' sleeper")


def test_mirror_change_reloads_and_containers_keep_running(dd):
    started = dd.ssh(HOST, SLEEPER).stdout.strip()
    pid = live_state(dd).split("MainPID=")[1].split()[0]
    proc = play(dd, "-l", HOST, "-v", docker_daemon_registry_mirrors=["https://mirror2.example.com"])
    assert recap(proc.stdout)[HOST]["failed"] == 0
    assert '"action": "reload"' in proc.stdout
    assert live_state(dd).split("MainPID=")[1].split()[0] == pid
    assert info(dd)["RegistryConfig"]["Mirrors"] == ["https://mirror2.example.com/"]
    assert dd.ssh(HOST, "docker inspect -f '{{.State.StartedAt}} {{.State.Pid}}' sleeper").stdout.strip() == started
    play(dd, "-l", HOST)
    assert info(dd)["RegistryConfig"]["Mirrors"] == ["https://mirror.example.com/"]
    dd.ssh(HOST, "docker rm -f sleeper >/dev/null")
