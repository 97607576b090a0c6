"""The host side of berth_dockerd_config: read the live state, plan, validate, write.

``converge`` is the module's whole algorithm: read current -> build the
candidate -> refuse before writing -> compare -> write only when changed and
not in check mode. It never restarts dockerd; the apply step does, once.
"""
import os
import tempfile

from ..commands import read_text
from . import apply, state
from .config import build_plan, render_config
from .diff import ansible_diff, key_changes
from .errors import ConflictingDropIns, DockerdConfigError
from .keys import VALIDATE_SINCE, format_version, parse_engine_version
from .systemd import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_DROP_IN,
    daemon_argv,
    effective_exec_start,
    other_drop_ins_setting,
    parse_show,
    service_values,
    show_argv,
)
from .validate import mask_url


def read_unit(run, drop_in_path):
    """The packaged ExecStart of docker.service, refusing other drop-ins that would fight berth's."""
    rc, out, err = run(show_argv())
    if rc != 0:
        raise DockerdConfigError("docker.service", "systemctl show failed: %s" % (err or out).strip())
    unit = parse_show(out)
    fragment = read_text(unit["fragment_path"]) if unit["fragment_path"] else None
    if not fragment:
        raise DockerdConfigError("docker.service", "the unit is not installed; install the engine first "
                                 "(the docker_host role)")
    exec_start = effective_exec_start(service_values(fragment, "ExecStart"))
    if not exec_start:
        raise DockerdConfigError("docker.service", "%s has no ExecStart" % unit["fragment_path"])
    fights = other_drop_ins_setting(unit["drop_in_paths"], drop_in_path, read_text)
    if fights:
        raise ConflictingDropIns("; ".join(
            "%s also sets %s, which would override or duplicate berth's drop-in %s: move its settings into "
            "berth's and remove it" % (path, what, drop_in_path) for path, what in fights),
            [(path, what, mask_url(read_text(path) or "")) for path, what in fights])
    unit["exec_start"] = exec_start
    return unit


PACKAGED_EXEC_START = "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock"


def _not_installed(run):
    rc, out, _ = run(["systemctl", "show", "--property=LoadState", "docker.service"])
    return rc == 0 and out.strip() == "LoadState=not-found"


def read_engine_version(run, dockerd):
    rc, out, err = run([dockerd, "--version"])
    if rc != 0:
        raise DockerdConfigError("engine_version", "%s --version failed (%s); give engine_version explicitly"
                                 % (dockerd, (err or out).strip()))
    version = parse_engine_version(out)
    if version is None:
        raise DockerdConfigError("engine_version", "cannot read a version from %r" % out.strip())
    return version


def validate_with_dockerd(plan, argv, path, run):
    """Engine 23.0+: ``dockerd --validate`` on the candidate, with the flags the drop-in starts it with."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        directory = tempfile.gettempdir()
    fd, candidate = tempfile.mkstemp(prefix=".berth-candidate-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(render_config(plan.after))
        flags = []
        skip = False
        for word in argv[1:]:
            if skip:
                skip = False
                continue
            if word == "--config-file":
                skip = True
                continue
            if word.startswith("--config-file="):
                continue
            flags.append(word)
        rc, out, err = run([argv[0]] + flags + ["--validate", "--config-file", candidate])
    finally:
        os.unlink(candidate)
    if rc != 0:
        message = (err or out).strip().replace(candidate, path)
        raise DockerdConfigError(path, "dockerd --validate refused the new configuration: %s" % message)
    return (out or err).strip()


def converge(params, run, check_mode):
    """Return the module result dict; raise DockerdConfigError before writing anything.

    The result never holds a proxy password: values and diffs are masked.
    """
    path = params.get("path") or DEFAULT_CONFIG_PATH
    drop_in_path = params.get("drop_in") or DEFAULT_DROP_IN
    state_dir = params.get("state_dir") or state.DEFAULT_STATE_DIR
    notes = []
    try:
        unit = read_unit(run, drop_in_path)
    except DockerdConfigError:
        if not check_mode or not _not_installed(run):
            raise
        # --check on a host whose engine an earlier task of the same run would install
        unit = {"exec_start": PACKAGED_EXEC_START}
        notes.append("docker.service is not installed yet: predicted for the packaged unit (%s), keys not checked "
                     "against an engine version" % PACKAGED_EXEC_START)
    argv = daemon_argv(unit["exec_start"])
    if params.get("engine_version"):
        version = parse_engine_version(params["engine_version"])
        if version is None:
            raise DockerdConfigError("engine_version", "%r is not a version such as 20.10.24"
                                     % params["engine_version"])
    elif notes:
        version = None
    else:
        version = read_engine_version(run, argv[0])
    plan = build_plan(params, read_text(path), read_text(drop_in_path), unit["exec_start"], version)
    plan.warnings.extend(notes)
    validated = None
    if plan.changed and version is not None and tuple(version[:2]) >= VALIDATE_SINCE:
        validated = validate_with_dockerd(plan, argv, path, run)
    pending = state.read_pending(state_dir)
    action = plan.action
    if pending:
        action = state.stronger(pending.get("action", "none"), action)
    if plan.changed and not check_mode:
        apply.write_files(plan, path, drop_in_path, state_dir, run)
    return {
        "changed": plan.changed or pending is not None,
        "diff": ansible_diff(plan, path, drop_in_path),
        "changes": key_changes(plan.before, plan.after),
        "drop_in_changed": plan.drop_in_changed,
        "restart_required": action == "restart",
        "reload_sufficient": action == "reload",
        "action": action,
        "pending_from_earlier_run": pending is not None,
        "engine_version": format_version(version) if version else None,
        "validated_by_dockerd": validated,
        "warnings": plan.warnings,
    }
