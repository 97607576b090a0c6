"""Security findings from fixture text: systemctl's ExecStart, daemon.json, SELinux, socket mode."""
from berth.drift.security import findings, flag_values, parse_execstart

# `systemctl show --property=ExecStart docker.service` on Debian 12 with docker.io, plus a drop-in.
EXECSTART_DEBIAN = ("ExecStart={ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// "
                    "--containerd=/run/containerd/containerd.sock ; ignore_errors=no ; start_time=[n/a] ; "
                    "stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n")
EXECSTART_RUNBOOK = ("ExecStart={ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd -H unix:///var/run/docker.sock "
                     "-H tcp://0.0.0.0:2375 --insecure-registry=10.0.0.5:5000 --registry-mirror "
                     "https://mirror.example.com ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; "
                     "pid=0 ; code=(null) ; status=0/0 }\n")


def test_parse_execstart_returns_dockerds_argv():
    assert parse_execstart(EXECSTART_DEBIAN) == [
        "/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"]
    assert parse_execstart("ExecStart=\n") == []


def test_flag_values_reads_both_spellings():
    argv = parse_execstart(EXECSTART_RUNBOOK)
    assert flag_values(argv, "-H", "--host") == ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]
    assert flag_values(argv, "--insecure-registry") == ["10.0.0.5:5000"]


def test_a_hardened_host_has_no_findings():
    assert findings({"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"], "tlsverify": True},
                    parse_execstart(EXECSTART_DEBIAN), {"SELINUX": "enforcing"}, "enforcing", True, 0o660) == []


def test_the_runbook_host_reports_every_finding():
    got = findings({}, parse_execstart(EXECSTART_RUNBOOK), {"SELINUX": "disabled"}, "disabled", False, 0o666)
    assert [f["finding"] for f in got] == [
        "tcp_without_tls", "insecure_registries", "selinux_disabled", "firewall_disabled", "docker_socket_mode"]
    assert got[0]["detail"].startswith("dockerd listens on tcp://0.0.0.0:2375 without TLS verification")
    assert got[4]["detail"] == "the docker socket is mode 0666, wider than 0660"


def test_insecure_registries_and_tcp_from_daemon_json():
    got = findings({"hosts": ["tcp://0.0.0.0:2375"], "insecure-registries": ["r:5000"]}, [], {}, "enforcing",
                   True, None)
    assert [(f["finding"], f["detail"]) for f in got] == [
        ("tcp_without_tls", "dockerd listens on tcp://0.0.0.0:2375 without TLS verification: root-equivalent "
                            "for anyone who can reach it"),
        ("insecure_registries", "images are pulled without TLS verification from r:5000"),
    ]


def test_a_kernel_without_selinux_is_reported_as_such():
    got = findings({}, [], {}, None, True, 0o660)
    assert got == [{"finding": "selinux_disabled",
                    "detail": "SELinux is not enabled in this kernel (config: no /etc/selinux/config)"}]
