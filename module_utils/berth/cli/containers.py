"""Container verbs of ``berth``: Docker's flags and output formats.

main.py dispatches the verbs listed in ``VERBS`` here through ``run(verb,
argv, context)``; ``main(argv)`` runs them standalone. Each ``cmd_*`` handler
takes the parsed args and returns the exit status. ``inspect`` looks for
containers first and hands the rest to the image verbs, as ``docker inspect``
does; ``rmi`` passes through here so the image store learns which images
containers use before it removes anything.
"""
import os
import select
import sys
import time

from ..runtime.container import spec
from ..runtime.container.errors import ContainerError, NotFound

# json, re and signal are imported where used: each pulls in enum and more, which costs
# a short `berth run` (which needs none of them) more than its own parsing and relaying.

DEFAULT_ROOT = "/var/lib/berth"

DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q


def _root(args):
    return getattr(args, "root", None) or os.environ.get("BERTH_ROOT") or DEFAULT_ROOT


def _manager(args):
    from ..runtime.container import manager
    return manager.Manager(_root(args))


def human_duration(seconds):
    """format.human_duration, imported on first use (format loads json and re)."""
    from .format import human_duration as render
    return render(seconds)


def _err(message):
    sys.stderr.write("Error response from daemon: %s\n" % message)


# -- create / run ----------------------------------------------------------
def _add_create_options(parser):
    import argparse
    parser.add_argument("--help", action="help", help="show this help (-h is --hostname, as in Docker)")
    parser.add_argument("--name")
    parser.add_argument("-e", "--env", action="append", default=[])
    parser.add_argument("-p", "--publish", action="append", default=[])
    parser.add_argument("-v", "--volume", action="append", default=[])
    parser.add_argument("-w", "--workdir")
    parser.add_argument("-u", "--user")
    parser.add_argument("-i", "--interactive", action="store_true")
    parser.add_argument("-t", "--tty", action="store_true")
    parser.add_argument("-l", "--label", action="append", default=[])
    parser.add_argument("--cidfile")
    parser.add_argument("--privileged", action="store_true")
    parser.add_argument("--rm", action="store_true")
    parser.add_argument("--restart", default="no")
    parser.add_argument("-m", "--memory")
    parser.add_argument("--memory-swap")
    parser.add_argument("--cpus")
    parser.add_argument("-c", "--cpu-shares", type=int)
    parser.add_argument("--pids-limit", type=int)
    parser.add_argument("--network", "--net", default="bridge")
    parser.add_argument("-h", "--hostname")
    parser.add_argument("--entrypoint")
    parser.add_argument("image")
    parser.add_argument("command", nargs=argparse.REMAINDER)


# Docker's create/run flags: (long names, short name, destination, kind).
CREATE_FLAGS = (
    (("--name",), None, "name", "value"), (("--env",), "e", "env", "append"),
    (("--publish",), "p", "publish", "append"), (("--volume",), "v", "volume", "append"),
    (("--workdir",), "w", "workdir", "value"), (("--user",), "u", "user", "value"),
    (("--interactive",), "i", "interactive", "bool"), (("--tty",), "t", "tty", "bool"),
    (("--label",), "l", "label", "append"), (("--cidfile",), None, "cidfile", "value"),
    (("--privileged",), None, "privileged", "bool"), (("--rm",), None, "rm", "bool"),
    (("--restart",), None, "restart", "value"), (("--memory",), "m", "memory", "value"),
    (("--memory-swap",), None, "memory_swap", "value"), (("--cpus",), None, "cpus", "value"),
    (("--cpu-shares",), "c", "cpu_shares", "int"), (("--pids-limit",), None, "pids_limit", "int"),
    (("--network", "--net"), None, "network", "value"), (("--hostname",), "h", "hostname", "value"),
    (("--entrypoint",), None, "entrypoint", "value"), (("--detach",), "d", "detach", "bool"),
)


class Args(object):
    """Parsed flags, attribute access like argparse's namespace."""

    def __init__(self, **values):
        self.__dict__.update(values)


def parse_create_args(verb, argv):
    """Docker-style parsing for create/run without argparse (it costs a fifth of a short run).

    Flags come before the image (pflag's interspersed=false); ``-it``, ``--flag=value`` and
    ``-evalue`` forms work. Returns None for ``--help`` or a parse error, so that argparse
    prints its usage and message.
    """
    by_long, by_short = {}, {}
    for longs, short, dest, kind in CREATE_FLAGS:
        if verb == "create" and dest == "detach":
            continue
        for name in longs:
            by_long[name] = (dest, kind)
        if short:
            by_short[short] = (dest, kind)
    values = {dest: ([] if kind == "append" else (False if kind == "bool" else None))
              for _, _, dest, kind in CREATE_FLAGS}
    values.update(restart="no", network="bridge")
    args = list(argv)

    def store(dest, kind, value):
        if kind == "append":
            values[dest].append(value)
        elif kind == "int":
            values[dest] = int(value)
        else:
            values[dest] = value
    try:
        while args and args[0].startswith("-") and args[0] != "-":
            item = args.pop(0)
            if item == "--":
                break
            if item.startswith("--"):
                name, eq, value = item.partition("=")
                dest, kind = by_long[name]
                if kind == "bool":
                    values[dest] = value.lower() not in ("false", "0") if eq else True
                    continue
                store(dest, kind, value if eq else args.pop(0))
                continue
            letters = item[1:]
            while letters:
                dest, kind = by_short[letters[0]]
                if kind == "bool":
                    values[dest] = True
                    letters = letters[1:]
                    continue
                store(dest, kind, letters[1:].lstrip("=") if letters[1:] else args.pop(0))
                letters = ""
        if not args:
            return None
    except (KeyError, IndexError, ValueError):
        return None
    values["image"] = args[0]
    values["command"] = args[1:]
    values["func"] = cmd_run if verb == "run" else cmd_create
    return Args(**values)


def _options(args):
    labels = {}
    for item in args.label:
        key, _, value = item.partition("=")
        labels[key] = value
    memory_swap = 0
    if args.memory_swap:
        memory_swap = -1 if args.memory_swap == "-1" else spec.parse_bytes(args.memory_swap)
    return {
        "name": args.name, "env": spec.parse_env(args.env), "publish": args.publish,
        "volumes": args.volume,
        "workdir": args.workdir, "user": args.user, "interactive": args.interactive,
        "tty": args.tty, "labels": labels, "privileged": args.privileged, "rm": args.rm,
        "restart": args.restart, "memory": spec.parse_bytes(args.memory) if args.memory else 0,
        "memory_swap": memory_swap, "cpus": args.cpus, "cpu_shares": args.cpu_shares,
        "pids_limit": args.pids_limit, "network": args.network, "hostname": args.hostname,
        "entrypoint": args.entrypoint, "cmd": args.command or None,
    }


def _create(args):
    if args.cidfile and os.path.exists(args.cidfile):
        raise ContainerError("Container ID file found, make sure the other container isn't running "
                             "or delete %s" % args.cidfile)
    if args.rm and args.restart not in ("no", None):
        raise ContainerError("Conflicting options: --restart and --rm")
    record, reason = _manager(args).create(args.image, _options(args))
    if reason:
        sys.stderr.write("WARNING: storage driver vfs (a full copy per container): %s\n" % reason)
    if args.cidfile:
        with open(args.cidfile, "w") as handle:
            handle.write(record["Id"])
    return record


def cmd_create(args):
    record = _create(args)
    print(record["Id"])
    return 0


def cmd_run(args):
    """Create and start in one request to the supervisor.

    The supervisor has the image store and the runtime loaded already, so
    this process only parses flags and relays: no image-store import, no
    record written from here (start-up time is most of a short run).
    """
    from ..runtime.container import client
    if args.cidfile and os.path.exists(args.cidfile):
        raise ContainerError("Container ID file found, make sure the other container isn't running "
                             "or delete %s" % args.cidfile)
    if args.rm and args.restart not in ("no", None):
        raise ContainerError("Conflicting options: --restart and --rm")
    detach = getattr(args, "detach", False)
    request = {"op": "run", "image": args.image, "options": _options(args), "attach": not detach,
               "stdin": args.interactive, "tty_size": _tty_size() if args.tty else None}
    sock = client.connect(_root(args), light=True)
    sock.sendall(client.encode_line(request))
    reply = client.read_reply(sock)
    if reply.get("warning"):
        sys.stderr.write("WARNING: storage driver vfs (a full copy per container): %s\n"
                         % reply["warning"])
    for warning in reply.get("warnings") or ():
        sys.stderr.write("WARNING: %s\n" % warning)
    if not reply.get("ok"):
        sock.close()
        if reply.get("spec_error"):
            raise spec.SpecError(reply["error"])
        raise ContainerError(reply.get("error") or "the supervisor refused the request")
    if args.cidfile:
        with open(args.cidfile, "w") as handle:
            handle.write(reply["id"])
    if detach:
        sock.close()
        print(reply["id"])
        return 0
    return relay(sock, args.interactive, args.tty)


def _tty_size():
    try:
        size = os.get_terminal_size(sys.stdin.fileno())
        return [size.lines, size.columns]
    except OSError:
        return None


def _attached_start(mgr, ref, interactive, tty, already_running=False):
    if already_running:
        sock = mgr.attach(ref, stdin=interactive)
    else:
        sock = mgr.start(ref, attach=True, stdin=interactive, tty_size=_tty_size() if tty else None)
    return relay(sock, interactive, tty)


def relay(sock, interactive, tty):
    """Copy stdin to the socket and frames to stdout/stderr until the exit frame."""
    from ..runtime.container.client import decode
    saved = None
    stdin_fd = sys.stdin.fileno() if interactive else None
    if tty and interactive and os.isatty(stdin_fd):
        import termios
        import tty as ttymod
        saved = termios.tcgetattr(stdin_fd)
        ttymod.setraw(stdin_fd)
    out = {1: sys.stdout.buffer, 2: sys.stderr.buffer}
    buffer = b""
    pending_detach = b""
    try:
        while True:
            readers = [sock] + ([stdin_fd] if stdin_fd is not None else [])
            ready, _, _ = select.select(readers, [], [])
            if stdin_fd is not None and stdin_fd in ready:
                data = os.read(stdin_fd, 65536)
                if not data:
                    sock.shutdown(1)  # SHUT_WR
                    stdin_fd = None
                elif tty:
                    data = pending_detach + data
                    if DETACH_KEYS in data:
                        sock.sendall(data[:data.index(DETACH_KEYS)])
                        return 0
                    if data.endswith(DETACH_KEYS[:1]):
                        pending_detach, data = data[-1:], data[:-1]
                    else:
                        pending_detach = b""
                    sock.sendall(data)
                else:
                    sock.sendall(data)
            if sock in ready:
                chunk = sock.recv(65536)
                if not chunk:
                    return 0
                buffer += chunk
                while len(buffer) >= 8:
                    stream = buffer[0]
                    length = int.from_bytes(buffer[4:8], "big")
                    if len(buffer) < 8 + length:
                        break
                    payload, buffer = buffer[8:8 + length], buffer[8 + length:]
                    if stream == 3:
                        return decode(payload)["exit"]
                    out[stream].write(payload)
                    out[stream].flush()
    finally:
        if saved is not None:
            import termios
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
        sock.close()


# -- lifecycle verbs -------------------------------------------------------
def _each(args, action):
    status = 0
    for ref in args.containers:
        try:
            action(ref)
            print(ref)
        except ContainerError as exc:
            _err(str(exc))
            status = 1
    return status


def cmd_start(args):
    mgr = _manager(args)
    if args.attach or args.interactive:
        record = mgr.get(args.containers[0])
        return _attached_start(mgr, record["Id"], args.interactive, record["Config"]["Tty"],
                               already_running=record["State"]["Running"])
    return _each(args, mgr.start)


def cmd_stop(args):
    mgr = _manager(args)
    return _each(args, lambda ref: mgr.stop(ref, args.time))


def cmd_restart(args):
    mgr = _manager(args)

    def restart(ref):
        mgr.stop(ref, args.time)
        mgr.start(ref)
    return _each(args, restart)


def parse_signal(text):
    import signal
    text = str(text).upper()
    if text.isdigit():
        return int(text)
    name = text if text.startswith("SIG") else "SIG" + text
    try:
        return int(getattr(signal, name))
    except AttributeError:
        raise ContainerError("Invalid signal: %s" % text) from None


def cmd_kill(args):
    mgr = _manager(args)
    signum = parse_signal(args.signal)
    return _each(args, lambda ref: mgr.kill(ref, signum))


def cmd_rm(args):
    mgr = _manager(args)
    return _each(args, lambda ref: mgr.remove(ref, force=args.force, volumes=args.volumes))


def cmd_wait(args):
    mgr = _manager(args)
    status = 0
    for ref in args.containers:
        try:
            print(mgr.wait(ref))
        except ContainerError as exc:
            _err(str(exc))
            status = 1
    return status


def cmd_rename(args):
    _manager(args).rename(args.container, args.new_name)
    return 0


def cmd_prune(args):
    if not args.force:
        sys.stdout.write("WARNING! This will remove all stopped containers.\n"
                         "Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed = _manager(args).prune()
    if removed:
        print("Deleted Containers:")
        for cid in removed:
            print(cid)
        print("")
    print("Total reclaimed space: 0B")
    return 0


def cmd_attach(args):
    mgr = _manager(args)
    record = mgr.get(args.container)
    return _attached_start(mgr, record["Id"], not args.no_stdin, record["Config"]["Tty"],
                           already_running=True)


def cmd_exec(args):
    from ..runtime.container import execute
    mgr = _manager(args)
    record = mgr.get(args.container)
    plan = execute.exec_plan(record, args.command, args.env, args.user, args.workdir,
                             args.privileged, args.tty)
    if args.detach:
        null = os.open(os.devnull, os.O_RDWR)
        child, err_r = execute.spawn_exec(record, plan, [null, null, null], detach=True)
        error = execute.read_error(err_r)
        if error:
            raise ContainerError(error)
        return 0
    if args.tty:
        import socket
        import struct
        plan["tty_size"] = _tty_size()
        parent, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        null = os.open(os.devnull, os.O_RDWR)
        child, err_r = execute.spawn_exec(record, plan, [null, null, null],
                                          console_fd=child_sock.fileno())
        child_sock.close()
        os.close(null)
        error = execute.read_error(err_r)
        if error:
            sys.stderr.write("OCI runtime exec failed: %s\n" % error)
        parent.settimeout(10)
        try:
            _, ancillary, _, _ = parent.recvmsg(1, socket.CMSG_LEN(4))
        except OSError:
            ancillary = []
        parent.close()
        if not ancillary:
            _, status = os.waitpid(child, 0)
            return 126
        master = struct.unpack("i", ancillary[0][2][:4])[0]
        return _relay_pty(master, child, args.interactive)
    # Pipes, never the caller's own descriptors: a host fd inside the container could be
    # reopened through /proc/self/fd (CVE-2016-9962 class).
    in_r, in_w = os.pipe() if args.interactive else (os.open(os.devnull, os.O_RDONLY), None)
    out_r, out_w = os.pipe()
    err_r2, err_w2 = os.pipe()
    child, err_r = execute.spawn_exec(record, plan, [in_r, out_w, err_w2])
    for fd in (in_r, out_w, err_w2):
        os.close(fd)
    error = execute.read_error(err_r)
    if error:
        sys.stderr.write("OCI runtime exec failed: %s\n" % error)
    _relay_pipes(in_w, {out_r: sys.stdout.buffer, err_r2: sys.stderr.buffer})
    _, status = os.waitpid(child, 0)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _relay_pipes(stdin_w, outputs):
    """Copy our stdin into the exec'd process and its output pipes to ours until they close."""
    stdin_fd = sys.stdin.fileno() if stdin_w is not None else None
    while outputs:
        readers = list(outputs) + ([stdin_fd] if stdin_fd is not None else [])
        ready, _, _ = select.select(readers, [], [])
        for fd in ready:
            if fd == stdin_fd:
                data = os.read(fd, 65536)
                if data:
                    try:
                        os.write(stdin_w, data)
                        continue
                    except OSError:
                        pass
                os.close(stdin_w)
                stdin_fd = stdin_w = None
                continue
            data = os.read(fd, 65536)
            if not data:
                os.close(fd)
                del outputs[fd]
                continue
            outputs[fd].write(data)
            outputs[fd].flush()
    if stdin_w is not None:
        os.close(stdin_w)


def _relay_pty(master, child, interactive):
    import termios
    import tty as ttymod
    stdin_fd = sys.stdin.fileno() if interactive else None
    saved = None
    if stdin_fd is not None and os.isatty(stdin_fd):
        saved = termios.tcgetattr(stdin_fd)
        ttymod.setraw(stdin_fd)
    try:
        while True:
            readers = [master] + ([stdin_fd] if stdin_fd is not None else [])
            ready, _, _ = select.select(readers, [], [])
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                os.write(sys.stdout.fileno(), data)
            if stdin_fd is not None and stdin_fd in ready:
                data = os.read(stdin_fd, 65536)
                if not data:
                    stdin_fd = None
                else:
                    os.write(master, data)
    finally:
        if saved is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
        os.close(master)
    _, status = os.waitpid(child, 0)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


# -- logs / inspect / ps ---------------------------------------------------
def parse_since(text, now=None):
    """Docker's --since: RFC3339, a unix timestamp, or a duration ('10m', '1h30m')."""
    import re

    from ..runtime.container import logs
    now = time.time() if now is None else now
    if re.match(r"^\d+(\.\d+)?$", text):
        return float(text)
    if re.match(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$", text):
        units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
        total = sum(float(v) * units[u] for v, _, u in re.findall(r"(\d+(\.\d+)?)(ns|us|ms|s|m|h)", text))
        return now - total
    try:
        return logs.parse_time(text if "T" in text else text + "T00:00:00Z")
    except ValueError:
        raise ContainerError("invalid value for \"since\": %s" % text) from None


def cmd_logs(args):
    from ..runtime.container import logs
    mgr = _manager(args)
    record = mgr.get(args.container)
    since = parse_since(args.since) if args.since else None
    entries, offset = logs.read_from(record["LogPath"])
    if since is not None:
        entries = [e for e in entries if logs.parse_time(e[0]) >= since]
    if args.tail not in (None, "all"):
        entries = logs.tail(entries, int(args.tail))
    _print_entries(entries, args.timestamps)
    while args.follow:
        record = mgr.get(record["Id"])
        more, offset = logs.read_from(record["LogPath"], offset)
        _print_entries(more, args.timestamps)
        if not record["State"]["Running"] and not more:
            break
        time.sleep(0.1)
    return 0


def _print_entries(entries, timestamps):
    for when, stream, text in entries:
        target = sys.stdout if stream == "stdout" else sys.stderr
        target.write(("%s %s" % (when, text)) if timestamps else text)
        target.flush()


def cmd_inspect(args):
    mgr = _manager(args)
    found = []
    status = 0
    for ref in args.containers:
        try:
            record = mgr.get(ref)
        except NotFound:
            sys.stderr.write("Error: No such object: %s\n" % ref)
            status = 1
            continue
        found.append(record)
    if args.format:
        for record in found:
            print(render_template(args.format, record))
    else:
        import json
        print(json.dumps(found, indent=4))
    return status


def status_text(record, now=None):
    from ..runtime.container import logs
    now = time.time() if now is None else now
    st = record["State"]
    if st["Running"]:
        return "Up " + human_duration(now - logs.parse_time(st["StartedAt"]))
    if st["Status"] == "created":
        return "Created"
    return "Exited (%d) %s ago" % (st["ExitCode"], human_duration(now - logs.parse_time(st["FinishedAt"])))


def ports_text(record):
    parts = []
    for key, entries in sorted(record["NetworkSettings"].get("Ports", {}).items()):
        for entry in entries or []:
            parts.append("%s:%s->%s" % (entry["HostIp"], entry["HostPort"], key))
    return ", ".join(parts)


def ps_row(record, no_trunc=False, now=None):
    from ..runtime.container import logs
    now = time.time() if now is None else now
    command = " ".join([record["Path"]] + record["Args"])
    if not no_trunc and len(command) > 20:
        command = command[:19] + "\u2026"
    created = logs.parse_time(record["Created"])
    return {
        "ID": record["Id"] if no_trunc else record["Id"][:12],
        "Image": record["Config"]["Image"],
        "Command": '"%s"' % command,
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(created)),
        "RunningFor": human_duration(now - created) + " ago",
        "Status": status_text(record, now),
        "State": record["State"]["Status"],
        "Ports": ports_text(record),
        "Names": record["Name"].lstrip("/"),
        "Labels": ",".join("%s=%s" % kv for kv in sorted(record["Config"].get("Labels", {}).items())),
        "Mounts": ",".join(m.get("Name") or m["Source"] for m in record.get("Mounts", [])),
        "Networks": "" if record["HostConfig"]["NetworkMode"] == "none" else (
            "bridge" if record["HostConfig"]["NetworkMode"] == "default"
            else record["HostConfig"]["NetworkMode"]),
        "Size": "",
    }


def _lookup_field(obj, path):
    for part in path:
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return "<no value>"
    return obj


def render_template(template, obj):
    """A Go-template subset: {{.Field}}, {{.A.B}}, {{json .X}}, {{json .}}, \\t and \\n."""
    import json
    import re

    def replace(match):
        expr = match.group(1).strip()
        as_json = expr.startswith("json ")
        if as_json:
            expr = expr[5:].strip()
        path = [p for p in expr.split(".") if p]
        value = _lookup_field(obj, path) if path else obj
        if as_json:
            return json.dumps(value, separators=(",", ":"))
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)
    text = template.replace("\\t", "\t").replace("\\n", "\n")
    return re.sub(r"\{\{(.*?)\}\}", replace, text)


def _matches(record, filters, row):
    import re
    for key, value in filters:
        if key == "name" and not re.search(value, record["Name"].lstrip("/")):
            return False
        if key == "id" and not record["Id"].startswith(value):
            return False
        if key == "status" and record["State"]["Status"] != value:
            return False
        if key == "ancestor" and value not in (record["Config"]["Image"], record["Image"]) and \
                not record["Image"].replace("sha256:", "").startswith(value.replace("sha256:", "")):
            return False
        if key == "label":
            name, eq, wanted = value.partition("=")
            labels = record["Config"].get("Labels", {})
            if name not in labels or (eq and labels[name] != wanted):
                return False
    return True


def _table(rows, columns):
    widths = [max([len(title)] + [len(r[key]) for r in rows]) for title, key in columns]
    lines = []
    for values in [[title for title, _ in columns]] + [[r[key] for _, key in columns] for r in rows]:
        cells = [v.ljust(w + 3) for v, w in zip(values[:-1], widths[:-1])] + [values[-1]]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def container_size(record):
    total = 0
    upper = record.get("GraphDriver", {}).get("Data", {}).get("UpperDir")
    if upper:
        for dirpath, _, filenames in os.walk(upper):
            for name in filenames:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    continue
    return total


def human_size(size):
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return ("%.3g%s" % (size, unit)) if unit != "B" else "%dB" % size
        size /= 1000.0
    return "%dB" % size


def cmd_ps(args):
    import re
    mgr = _manager(args)
    show_all = args.all or args.last is not None or args.latest
    records = mgr.list(all_states=show_all)
    filters = []
    for item in args.filter:
        key, _, value = item.partition("=")
        filters.append((key, value))
        if key == "status":
            records = mgr.list(all_states=True)
    now = time.time()
    rows = []
    for record in records:
        row = ps_row(record, args.no_trunc, now)
        if args.size:
            row["Size"] = "%s (virtual 0B)" % human_size(container_size(record))
        if _matches(record, filters, row):
            rows.append(row)
    if args.latest:
        rows = rows[:1]
    elif args.last is not None and args.last >= 0:
        rows = rows[:args.last]
    if args.quiet:
        for row in rows:
            print(row["ID"])
        return 0
    if args.format:
        template = args.format
        if template.startswith("table"):
            fields = re.findall(r"\{\{\s*\.(\w+)\s*\}\}", template)
            columns = [(_HEADERS.get(f, f.upper()), f) for f in fields]
            print(_table(rows, columns))
            return 0
        for row in rows:
            print(render_template(template, row))
        return 0
    columns = [("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"),
               ("CREATED", "RunningFor"), ("STATUS", "Status"), ("PORTS", "Ports"), ("NAMES", "Names")]
    if args.size:
        columns.append(("SIZE", "Size"))
    print(_table(rows, columns))
    return 0


_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
            "RunningFor": "CREATED", "Status": "STATUS", "State": "STATE", "Ports": "PORTS",
            "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
            "Size": "SIZE"}


def cmd_top(args):
    mgr = _manager(args)
    record = mgr.get(args.container)
    if not record["State"]["Running"]:
        raise ContainerError("Container %s is not running" % record["Id"])
    from ..runtime.container import cgroups
    group = cgroups.for_container(record["Id"], os.environ.get("BERTH_CGROUP_PARENT", "berth"))
    rows = []
    for pid in sorted(group.pids()):
        try:
            with open("/proc/%d/status" % pid) as handle:
                status = dict(line.split(":", 1) for line in handle if ":" in line)
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        rows.append({"UID": status["Uid"].split()[0], "PID": str(pid),
                     "PPID": status["PPid"].strip(), "CMD": cmdline or "[%s]" % status["Name"].strip()})
    print(_table(rows, [("UID", "UID"), ("PID", "PID"), ("PPID", "PPID"), ("CMD", "CMD")]))
    return 0


def cmd_stats(args):
    mgr = _manager(args)
    from ..runtime.container import cgroups
    records = [mgr.get(r) for r in args.containers] if args.containers else mgr.list()
    groups = [(r, cgroups.for_container(r["Id"], os.environ.get("BERTH_CGROUP_PARENT", "berth")))
              for r in records if r["State"]["Running"]]
    first = {r["Id"]: g.stats() for r, g in groups}
    t0 = time.time()
    time.sleep(0.5)
    elapsed = time.time() - t0
    rows = []
    for record, group in groups:
        now = group.stats()
        cpu = (now.get("cpu_ns", 0) - first[record["Id"]].get("cpu_ns", 0)) / (elapsed * 1e9) * 100
        memory = now.get("memory", 0)
        limit = now.get("memory_limit") or 0
        if not limit or limit >= 1 << 62:
            limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        rows.append({"ID": record["Id"][:12], "Name": record["Name"].lstrip("/"),
                     "CPU": "%.2f%%" % cpu,
                     "Mem": "%s / %s" % (_binary_size(memory), _binary_size(limit)),
                     "MemPerc": "%.2f%%" % (100.0 * memory / limit if limit else 0),
                     "PIDs": str(now.get("pids", 0))})
    print(_table(rows, [("CONTAINER ID", "ID"), ("NAME", "Name"), ("CPU %", "CPU"),
                        ("MEM USAGE / LIMIT", "Mem"), ("MEM %", "MemPerc"), ("PIDS", "PIDs")]))
    return 0


def _binary_size(size):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return "%.4g%s" % (size, unit)
        size /= 1024.0
    return "%dB" % size


# -- registration ----------------------------------------------------------
def _containers_parser(sub, name, handler, help_text, multiple=True):
    parser = sub.add_parser(name, help=help_text)
    parser.add_argument("containers" if multiple else "container", nargs="+" if multiple else None)
    parser.set_defaults(func=handler)
    return parser


def _Formatter(prog):
    """A fixed width: argparse's default asks shutil (and so imports bz2, lzma) on every run."""
    import argparse
    return argparse.HelpFormatter(prog, width=100)


class _OnlyVerb(object):
    """An add_subparsers() stand-in that builds the parser of one verb only (start-up time)."""

    def __init__(self, sub, verb):
        self.sub = sub
        self.verb = verb

    def add_parser(self, name, **kwargs):
        if name == self.verb:
            return self.sub.add_parser(name, formatter_class=_Formatter, **kwargs)
        import argparse
        return argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)


def add_parsers(sub, only=None):
    """Register the container verbs (or ``only`` that one) on an ``add_subparsers()`` object."""
    import argparse
    if only is not None:
        sub = _OnlyVerb(sub, only)
    parser = sub.add_parser("create", help="Create a new container", add_help=False)
    _add_create_options(parser)
    parser.set_defaults(func=cmd_create)
    parser = sub.add_parser("run", help="Create and run a new container", add_help=False)
    _add_create_options(parser)
    parser.add_argument("-d", "--detach", action="store_true")
    parser.set_defaults(func=cmd_run)
    parser = _containers_parser(sub, "start", cmd_start, "Start stopped containers")
    parser.add_argument("-a", "--attach", action="store_true")
    parser.add_argument("-i", "--interactive", action="store_true")
    for name, handler, text in (("stop", cmd_stop, "Stop running containers"),
                                ("restart", cmd_restart, "Restart containers")):
        parser = _containers_parser(sub, name, handler, text)
        parser.add_argument("-t", "--time", type=int, default=10)
    parser = _containers_parser(sub, "kill", cmd_kill, "Kill running containers")
    parser.add_argument("-s", "--signal", default="KILL")
    parser = _containers_parser(sub, "rm", cmd_rm, "Remove containers")
    parser.add_argument("-f", "--force", action="store_true")
    parser.add_argument("-v", "--volumes", action="store_true")
    _containers_parser(sub, "wait", cmd_wait, "Wait for containers to stop, print exit codes")
    parser = _containers_parser(sub, "inspect", cmd_inspect, "Show container records")
    parser.add_argument("-f", "--format")
    parser = sub.add_parser("exec", help="Run a command in a running container")
    for flag, dest in (("-d", "detach"), ("-i", "interactive"), ("-t", "tty"), ("--privileged", "privileged")):
        parser.add_argument(flag, dest=dest, action="store_true")
    parser.add_argument("-e", "--env", action="append", default=[])
    parser.add_argument("-u", "--user")
    parser.add_argument("-w", "--workdir")
    parser.add_argument("container")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    parser.set_defaults(func=cmd_exec)
    parser = _containers_parser(sub, "attach", cmd_attach, "Attach to a running container", False)
    parser.add_argument("--no-stdin", action="store_true")
    parser = _containers_parser(sub, "logs", cmd_logs, "Fetch the logs of a container", False)
    parser.add_argument("-f", "--follow", action="store_true")
    parser.add_argument("-n", "--tail")
    parser.add_argument("-t", "--timestamps", action="store_true")
    parser.add_argument("--since")
    parser = sub.add_parser("ps", help="List containers")
    parser.add_argument("-a", "--all", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("-n", "--last", type=int)
    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("-s", "--size", action="store_true")
    parser.add_argument("--no-trunc", action="store_true")
    parser.add_argument("-f", "--filter", action="append", default=[])
    parser.add_argument("--format")
    parser.set_defaults(func=cmd_ps)
    _containers_parser(sub, "top", cmd_top, "Show the processes of a container", False)
    parser = sub.add_parser("stats", help="Show resource usage of containers")
    parser.add_argument("--no-stream", action="store_true")
    parser.add_argument("containers", nargs="*")
    parser.set_defaults(func=cmd_stats)
    parser = sub.add_parser("rename", help="Rename a container")
    parser.add_argument("container")
    parser.add_argument("new_name")
    parser.set_defaults(func=cmd_rename)
    parser = sub.add_parser("container", help="Manage containers")
    container_sub = parser.add_subparsers(dest="container_command")
    prune = container_sub.add_parser("prune", help="Remove all stopped containers")
    prune.add_argument("-f", "--force", action="store_true")
    prune.set_defaults(func=cmd_prune)


def run_handler(args):
    """Call a verb's handler with Docker's error conventions (exit 125 for daemon errors)."""
    try:
        return args.func(args)
    except spec.SpecError as exc:
        sys.stderr.write("berth: %s\n" % exc)
        return 125
    except ContainerError as exc:
        text = str(exc)
        _err(text)
        if "executable file not found" in text or "no such file or directory" in text:
            return 127
        if "permission denied" in text:
            return 126
        return 125 if args.func in (cmd_run, cmd_create) else 1


VERBS = ("create", "run", "start", "stop", "restart", "kill", "rm", "wait", "inspect", "exec",
         "attach", "logs", "ps", "top", "stats", "rename", "container", "rmi")


def run(verb, argv, context):
    """Entry from main.py's dispatcher."""
    if verb == "rmi":
        from ..runtime.container import images as image_adapter
        from ..runtime.container import manager
        from . import images as image_verbs
        image_adapter.register_in_use_checker(manager.images_in_use)
        return image_verbs.run(verb, argv, context)
    if verb == "inspect":
        return _inspect_any(argv, context)
    if verb in ("run", "create"):
        args = parse_create_args(verb, argv)
        if args is not None:
            args.root = context.root
            return run_handler(args)
    import argparse
    parser = argparse.ArgumentParser(prog="berth", formatter_class=_Formatter)
    add_parsers(parser.add_subparsers(dest="verb"), only=verb)
    args = parser.parse_args([verb] + list(argv))
    args.root = context.root
    if not getattr(args, "func", None):
        parser.parse_args([verb, "--help"])
    return run_handler(args)


def _inspect_any(argv, context):
    """Containers first; names that are no container go to the image verbs."""
    import argparse
    parser = argparse.ArgumentParser(prog="berth inspect")
    parser.add_argument("-f", "--format")
    parser.add_argument("--type", choices=("container", "image"))
    parser.add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    if args.type != "image":
        from ..runtime.container import manager
        mgr = manager.Manager(context.root)
        found, rest = [], []
        for name in args.names:
            try:
                found.append(mgr.get(name))
            except NotFound:
                rest.append(name)
        if found or args.type == "container":
            args.containers = [r["Id"] for r in found]
            args.root = context.root
            status = cmd_inspect(args) if found else 0
            for name in rest:
                sys.stderr.write("Error: No such object: %s\n" % name)
            return status or (1 if rest else 0)
    from . import images as image_verbs
    passed = (["-f", args.format] if args.format else []) + args.names
    return image_verbs.run("inspect", passed, context)


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="berth")
    parser.add_argument("--root", default=None)
    sub = parser.add_subparsers(dest="verb")
    add_parsers(sub)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return run_handler(args)


__all__ = ["add_parsers", "main", "run_handler"]
