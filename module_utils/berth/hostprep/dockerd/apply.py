"""Writing the candidate files, then restarting or reloading dockerd with a health gate and rollback.

Restart: ``systemctl restart --no-block``, then watch the unit until a new
main process is active and answers on its socket. When it fails (or does not
answer in time) the previous files go back, the unit's failed state is reset,
docker starts again on them, and the error dockerd wrote to the journal is
reported. Reload: SIGHUP through ``systemctl reload``, then ``/info`` must show
the reloadable settings asked for; if not, the same rollback.
"""
import json
import os
import re
import socket
import time

from ...client.engine import EngineClient, EngineError
from ...common.atomic import atomic_write
from . import state
from .config import render_config
from .errors import DockerdApplyError
from .systemd import UNIT

POLL = 0.05
ERROR_LINE = re.compile(r"level=(fatal|error)|failed to start daemon|unable to configure|error starting daemon|"
                        r"error initializing|invalid|mutually exclusive", re.I)


def write_files(plan, path, drop_in_path, state_dir, run):
    """Keep the previous files, write the new ones atomically, make systemd read the drop-in."""
    state.record_change(state_dir, plan.action, [path, drop_in_path])
    secret_mode = 0o600 if plan.secrets else 0o644
    if plan.config_changed:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        atomic_write(path, render_config(plan.after), mode=secret_mode)
    if plan.drop_in_changed:
        os.makedirs(os.path.dirname(drop_in_path), mode=0o755, exist_ok=True)
        atomic_write(drop_in_path, plan.drop_in_after, mode=secret_mode)
        _systemctl(run, "daemon-reload")


def _systemctl(run, *args):
    argv = ["systemctl"] + list(args)
    rc, out, err = run(argv)
    if rc != 0:
        raise DockerdApplyError("%s failed: %s" % (" ".join(argv), (err or out).strip()))
    return out


def unit_state(run):
    out = _systemctl(run, "show", "--property=ActiveState,SubState,MainPID,NRestarts", UNIT)
    fields = dict(line.partition("=")[::2] for line in out.splitlines() if "=" in line)
    return {"active_state": fields.get("ActiveState", ""), "sub_state": fields.get("SubState", ""),
            "main_pid": int(fields.get("MainPID") or 0)}


def answers(config, timeout=2.0):
    """dockerd answers on its first unix socket (``/_ping``), or accepts a TCP connection if it has none."""
    hosts = config.get("hosts") or ["unix:///var/run/docker.sock"]
    for host in hosts:
        if host.startswith("unix://"):
            try:
                EngineClient(host[len("unix://"):], timeout=timeout).ping()
                return True
            except EngineError:
                return False
    for host in hosts:
        if host.startswith("tcp://"):
            address, _, port = host[len("tcp://"):].rpartition(":")
            address = address.strip("[]")
            if address in ("0.0.0.0", "::", ""):
                address = "127.0.0.1"
            try:
                socket.create_connection((address, int(port)), timeout=timeout).close()
                return True
            except OSError:
                return False
    return False


def engine_info(config, timeout=5.0):
    for host in config.get("hosts") or ["unix:///var/run/docker.sock"]:
        if host.startswith("unix://"):
            try:
                return EngineClient(host[len("unix://"):], timeout=timeout).request("GET", "/info")
            except EngineError:
                return None
    return None


def info_mismatches(config, info):
    """Reloadable settings asked for in ``config`` that ``/info`` does not show."""
    if info is None:
        return []
    problems = []
    registry = info.get("RegistryConfig") or {}
    want = sorted(config.get("registry-mirrors") or [])
    have = sorted(registry.get("Mirrors") or [])
    if want != have:
        problems.append("registry-mirrors: asked %s, running %s" % (want, have))
    if "live-restore" in config and bool(config["live-restore"]) != bool(info.get("LiveRestoreEnabled")):
        problems.append("live-restore: asked %s, running %s" % (config["live-restore"], info.get("LiveRestoreEnabled")))
    if "debug" in config and bool(config["debug"]) != bool(info.get("Debug")):
        problems.append("debug: asked %s, running %s" % (config["debug"], info.get("Debug")))
    return problems


def journal_cursor(run):
    rc, out, _ = run(["journalctl", "-u", UNIT, "-n", "0", "--show-cursor", "--no-pager", "-q"])
    match = re.search(r"cursor:\s*(\S+)", out or "")
    return match.group(1) if rc == 0 and match else None


def journal_since(run, cursor, lines=200):
    argv = ["journalctl", "-u", UNIT, "--no-pager", "-o", "cat", "-q"]
    argv += ["--after-cursor", cursor] if cursor else ["-n", str(lines)]
    rc, out, _ = run(argv)
    return out if rc == 0 else ""


def daemon_error(journal):
    """The lines in which dockerd says why it stopped; systemd's own lines are left out."""
    lines = [line.strip() for line in journal.splitlines() if line.strip()]
    own = [line for line in lines if not line.startswith(("docker.service:", "Started ", "Stopped ", "Stopping ",
                                                          "Starting ", "Failed to start", "Reloading",
                                                          "Reloaded"))]
    errors = [line for line in own if ERROR_LINE.search(line)]
    return "\n".join((errors or own or lines)[-3:])


def wait_restarted(run, config, old_pid, timeout):
    """Wait for a new main process that is active and answers: None, or why not (as soon as systemd saw it fail)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        unit = unit_state(run)
        if unit["active_state"] == "failed" or unit["sub_state"] in ("auto-restart", "failed"):
            return "docker.service failed to start (%s/%s)" % (unit["active_state"], unit["sub_state"])
        if unit["active_state"] == "active" and unit["main_pid"] not in (0, old_pid) and answers(config):
            return None
        time.sleep(POLL)
    return "docker did not become active and answer within %ds" % timeout


def wait_reloaded(config, timeout):
    deadline = time.time() + timeout
    problems = ["dockerd does not answer"]
    while time.time() < deadline:
        if answers(config):
            problems = info_mismatches(config, engine_info(config))
            if not problems:
                return []
        time.sleep(POLL)
    return problems


def _live_config(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return {}


def apply(action, path, state_dir, run, timeout=60):
    """Apply the pending change (``action`` auto|restart|reload); return what was done.

    Raises DockerdApplyError after rolling back when dockerd is not healthy on the new files.
    """
    pending = state.read_pending(state_dir)
    if action == "auto":
        action = pending.get("action", "none") if pending else "none"
    result = {"action": action, "rolled_back": False, "elapsed": 0.0}
    if action == "none":
        return result
    config = _live_config(path)
    started = time.time()
    cursor = journal_cursor(run)
    if action == "reload":
        _systemctl(run, "reload", UNIT)
        problems = wait_reloaded(config, min(timeout, 30))
        healthy = not problems
        reason = "; ".join(problems)
    else:
        old_pid = unit_state(run)["main_pid"]
        # berth_dockerd_config ran daemon-reload when it wrote the drop-in; reset-failed clears the
        # start limit, so this one restart is never refused for earlier ones
        _systemctl(run, "reset-failed", UNIT)
        _systemctl(run, "restart", "--no-block", UNIT)
        reason = wait_restarted(run, config, old_pid, timeout)
        healthy = reason is None
    result["elapsed"] = round(time.time() - started, 3)
    if healthy:
        state.clear_pending(state_dir)
        return result
    error = daemon_error(journal_since(run, cursor))
    rolled_back = _roll_back(run, pending, state_dir, path, action, timeout)
    raise DockerdApplyError(
        "dockerd %s with the new configuration failed (%s). dockerd said: %s. %s" % (
            action, reason, error or "(nothing in the journal)",
            "The previous configuration was restored and docker is running on it again."
            if rolled_back else "Restoring the previous configuration did not bring docker back either: "
            "check journalctl -u docker."),
        journal=error, rolled_back=rolled_back)


def _roll_back(run, pending, state_dir, path, action, timeout):
    """Previous files back; a failed reload reloads them, a failed restart starts docker on them."""
    if pending:
        state.restore_previous(pending)
    state.clear_pending(state_dir)
    config = _live_config(path)
    if action == "reload":
        rc, _, _ = run(["systemctl", "reload", UNIT])
        return rc == 0 and not wait_reloaded(config, min(timeout, 30))
    _systemctl(run, "daemon-reload")
    run(["systemctl", "reset-failed", UNIT])
    old_pid = unit_state(run)["main_pid"]
    rc, _, _ = run(["systemctl", "restart", "--no-block", UNIT])
    return rc == 0 and wait_restarted(run, config, old_pid, timeout) is None
