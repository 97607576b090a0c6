"""docker.service as systemd sees it, and berth's one drop-in for it.

The packaged unit starts ``dockerd -H fd://``; with ``hosts`` in daemon.json
dockerd then refuses to start, even when both name the same socket. berth's
drop-in resets ``ExecStart=`` and starts the same binary with the unit's other
flags but without ``-H`` and without environment-expanded options, so
daemon.json is the one place settings live.
"""
import os
import shlex

from .errors import DockerdConfigError
from .keys import flag_key

DEFAULT_DROP_IN = "/etc/systemd/system/docker.service.d/berth.conf"
DEFAULT_CONFIG_PATH = "/etc/docker/daemon.json"
UNIT = "docker.service"


def show_argv():
    return ["systemctl", "show", "--property=FragmentPath,DropInPaths,ActiveState,MainPID", UNIT]


def parse_show(text):
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip()
    return {
        "fragment_path": fields.get("FragmentPath", ""),
        "drop_in_paths": fields.get("DropInPaths", "").split(),
        "active_state": fields.get("ActiveState", ""),
        "main_pid": int(fields.get("MainPID") or 0),
    }


def _logical_lines(text):
    """Unit-file lines with backslash continuations joined, comments dropped."""
    joined, pending = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip()[:1] in ("#", ";")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append((pending + line).strip())
        pending = ""
    if pending:
        joined.append(pending.strip())
    return joined


def service_values(text, name):
    """The values of ``name=`` in the [Service] section, in order (an empty value resets the list)."""
    section, values = None, []
    for line in _logical_lines(text):
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if section == "Service" and sep and key.strip() == name:
            values.append(value.strip())
    return values


def effective_exec_start(values):
    """The ExecStart systemd keeps after resets (``ExecStart=`` clears the ones before)."""
    current = []
    for value in values:
        if value:
            current.append(value)
        else:
            current = []
    return current[-1] if current else None


def daemon_argv(exec_start):
    """The packaged ExecStart without ``-H``/``--host`` flags and ``$VARIABLE`` options.

    ``/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS``
    -> ``["/usr/sbin/dockerd", "--containerd=/run/containerd/containerd.sock"]``.
    """
    words = shlex.split(exec_start)
    if not words:
        raise DockerdConfigError("docker.service", "the unit has an empty ExecStart")
    binary = words[0].lstrip("-@+!:")
    kept, skip_next = [binary], False
    for word in words[1:]:
        if skip_next:
            skip_next = False
            continue
        if word.startswith("$"):
            continue
        if word in ("-H", "--host"):
            skip_next = True
            continue
        if word.startswith(("-H=", "--host=")) or (word.startswith("-H") and not word.startswith("--")):
            continue
        kept.append(word)
    return kept


def flag_keys(argv):
    """daemon.json keys the flags in ``argv`` set (value words are skipped)."""
    return sorted({flag_key(word) for word in argv[1:] if word.startswith("-") and word not in ("-", "--")})


def _systemd_quote(word):
    """Quote one word of a unit command line or Environment= assignment."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    if escaped and all(c.isalnum() or c in "/._-=:,@+" for c in escaped):
        return escaped
    return '"%s"' % escaped


def render_drop_in(argv, environment, socket_chmod=None):
    """The drop-in text: ExecStart reset, dockerd's argv, the proxy environment, the socket mode."""
    lines = [
        "# Managed by berth (berth_dockerd_config); edits are overwritten.",
        "# dockerd takes its settings from daemon.json: this drop-in starts it without -H flags,",
        "# which would conflict with \"hosts\" there, and gives it the proxy environment.",
        "[Service]",
        "ExecStart=",
        "ExecStart=" + " ".join(_systemd_quote(word) for word in argv),
    ]
    for name in sorted(environment):
        lines.append("Environment=" + _systemd_quote("%s=%s" % (name, environment[name])))
    if socket_chmod:
        mode, path = socket_chmod
        lines.append("ExecStartPost=/bin/chmod %s %s" % (mode, _systemd_quote(path)))
    return "\n".join(lines) + "\n"


def other_drop_ins_setting(drop_in_paths, own_path, read):
    """Other drop-ins that set ExecStart or proxy variables: each would fight berth's drop-in."""
    found = []
    for path in drop_in_paths:
        if os.path.abspath(path) == os.path.abspath(own_path):
            continue
        text = read(path) or ""
        if service_values(text, "ExecStart"):
            found.append((path, "ExecStart"))
        for value in service_values(text, "Environment"):
            if any(name in value.upper() for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")):
                found.append((path, "Environment (proxy)"))
                break
    return found
