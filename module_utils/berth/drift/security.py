"""Security findings a drift run reports every time: settings that are asked for, not drift,
but must stay visible (the runbook's unsafe defaults).

Pure ``findings(...)`` over what ``gather(run)`` reads from the host: daemon.json, the docker
unit's ExecStart, SELinux config and runtime mode, firewalld's state, the docker socket's mode.
"""
import json
import os
import shlex
import stat

from ..hostprep.commands import read_text
from ..hostprep.selinux import find_selinuxfs, parse_selinux_config, read_runtime_mode

SOCKET_MODE_LIMIT = 0o660


def parse_execstart(text):
    """The argv of dockerd from ``systemctl show -p ExecStart`` (``{ path=... ; argv[]=... ; ... }``)."""
    marker = "argv[]="
    start = text.find(marker)
    if start < 0:
        return []
    end = text.find(" ;", start)
    return shlex.split(text[start + len(marker):end if end >= 0 else None])


def flag_values(argv, *names):
    """Values of a repeated dockerd flag in both ``--flag value`` and ``--flag=value`` forms."""
    values = []
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                values.append(argv[index + 1])
            elif arg.startswith(name + "="):
                values.append(arg.split("=", 1)[1])
    return values


def findings(daemon_config, dockerd_argv, selinux_config, selinux_runtime, firewalld_active, socket_mode):
    """The list of ``{"finding", "detail"}`` for one host."""
    found = []
    hosts = list(daemon_config.get("hosts") or []) + flag_values(dockerd_argv, "-H", "--host")
    tls = bool(daemon_config.get("tlsverify")) or "--tlsverify" in dockerd_argv or \
        "--tlsverify=true" in dockerd_argv
    tcp = [host for host in hosts if host.startswith("tcp://")]
    if tcp and not tls:
        found.append({"finding": "tcp_without_tls",
                      "detail": "dockerd listens on %s without TLS verification: root-equivalent for anyone "
                                "who can reach it" % ", ".join(tcp)})
    insecure = list(daemon_config.get("insecure-registries") or []) + flag_values(
        dockerd_argv, "--insecure-registry")
    if insecure:
        found.append({"finding": "insecure_registries",
                      "detail": "images are pulled without TLS verification from %s" % ", ".join(insecure)})
    mode = selinux_runtime or selinux_config.get("SELINUX") or "absent"
    if mode in ("disabled", "absent"):
        found.append({"finding": "selinux_disabled",
                      "detail": "SELinux is %s (config: %s)" % (
                          "not enabled in this kernel" if mode == "absent" else "disabled",
                          selinux_config.get("SELINUX", "no /etc/selinux/config"))})
    if not firewalld_active:
        found.append({"finding": "firewall_disabled", "detail": "firewalld is not running"})
    if socket_mode is not None and socket_mode & ~SOCKET_MODE_LIMIT & 0o777:
        found.append({"finding": "docker_socket_mode",
                      "detail": "the docker socket is mode %04o, wider than %04o" % (socket_mode,
                                                                                      SOCKET_MODE_LIMIT)})
    return found


def gather(run, daemon_json="/etc/docker/daemon.json", socket_path="/var/run/docker.sock",
           selinux_config="/etc/selinux/config", firewalld_active=None):
    """Read the host and return its findings.

    ``firewalld_active`` may come from facts already read (the preflight module's
    ``systemctl show``), saving a command.
    """
    text = read_text(daemon_json, "") or ""
    try:
        daemon_config = json.loads(text) if text.strip() else {}
    except ValueError:
        daemon_config = {}
    rc, out, _err = run(["systemctl", "show", "--property=ExecStart", "docker.service"])
    dockerd_argv = parse_execstart(out) if rc == 0 else []
    selinuxfs = find_selinuxfs()
    runtime = read_runtime_mode(selinuxfs) if selinuxfs else None
    config = parse_selinux_config(read_text(selinux_config, "") or "")
    if firewalld_active is None:
        rc, out, _err = run(["systemctl", "is-active", "firewalld.service"])
        firewalld_active = rc == 0 and out.strip() == "active"
    try:
        socket_mode = stat.S_IMODE(os.stat(socket_path).st_mode)
    except OSError:
        socket_mode = None
    return findings(daemon_config, dockerd_argv, config, runtime, firewalld_active, socket_mode)
