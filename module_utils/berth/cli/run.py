"""The verbs that relay a process's streams: create, run, attach, exec.

``run`` is the hot path: it parses its flags from the option table
(runtime/container/options.py), turns them into the Engine API create body and
sends it to the store root's supervisor in one request (create + start there,
where the image store and the runtime are warm). This module therefore imports
no json, re, socket or signal at its top (each pulls in enum and more): a short
``berth run`` pays for nothing it does not use.
"""
import os
import select
import sys

from ..common.errors import BerthError, InvalidParameter
from ..runtime.container import options

DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q

USAGES = {
    "run": ("run [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container"),
    "create": ("create [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container"),
}


def error_text(err):
    """Docker's words: a refused option is the CLI's own message, the rest the daemon's."""
    if isinstance(err, InvalidParameter):
        return "berth: %s" % err
    return "Error response from daemon: %s" % err


def help_text(verb):
    """``berth run --help``: the usage and every flag, from the option table."""
    usage, description = USAGES[verb]
    rows = []
    for option in options.for_verb(verb):
        shorts = [f for f in option.flags if len(f) == 2]
        longs = [f for f in option.flags if len(f) > 2]
        flag = "%s%s" % ((shorts[0] + ", ") if shorts else "    ", ", ".join(longs))
        if option.kind != "bool":
            flag += " " + option.metavar
        rows.append((flag, option.help))
    width = max(len(flag) for flag, _ in rows) + 3
    lines = ["  %s%s" % (flag.ljust(width), text)
             for flag, text in sorted(rows, key=lambda row: row[0].split("--", 1)[1])]
    return "\nUsage:  berth %s\n\n%s\n\nOptions:\n%s\n" % (usage, description, "\n".join(lines))


def _parse(verb, argv):
    try:
        parsed = options.parse_cli(verb, argv)
    except InvalidParameter as err:
        raise InvalidParameter("%s\nSee 'berth %s --help'." % (err, verb)) from None
    if parsed is None:
        sys.stdout.write(help_text(verb))
        return None
    values, image, command = parsed
    name, body = options.to_body(values, image, command, os.environ)
    cidfile = values.get("cidfile")
    if cidfile and os.path.exists(cidfile):
        raise BerthError("Container ID file found, make sure the other container isn't running "
                         "or delete %s" % cidfile)
    return values, name, body


def _write_cidfile(values, container_id):
    if values.get("cidfile"):
        with open(values["cidfile"], "w") as handle:
            handle.write(container_id)


def _storage_warning(reason):
    if reason:
        sys.stderr.write("WARNING: storage driver vfs (a full copy per container): %s\n" % reason)


def cmd_create(argv, context):
    parsed = _parse("create", argv)
    if parsed is None:
        return 0
    values, name, body = parsed
    record, reason = context.containers.create(name, body)
    _storage_warning(reason)
    _write_cidfile(values, record["Id"])
    sys.stdout.write(record["Id"] + "\n")
    return 0


def cmd_run(argv, context):
    """Create and start in one request to the supervisor.

    The supervisor has the image store and the runtime loaded already, so
    this process only parses flags and relays: no image-store import, no
    record written from here (start-up time is most of a short run).
    """
    from ..runtime.container import client, protocol
    parsed = _parse("run", argv)
    if parsed is None:
        return 0
    values, name, body = parsed
    interactive, tty = values["interactive"], values["tty"]
    request = {"op": "run", "name": name, "body": body, "attach": not values["detach"],
               "stdin": interactive, "tty_size": _tty_size() if tty else None}
    sock = client.connect(context.root, light=True)
    sock.sendall(protocol.encode_line(request))
    reply = protocol.read_reply(sock)
    _storage_warning(reply.get("warning"))
    for warning in reply.get("warnings") or ():
        sys.stderr.write("WARNING: %s\n" % warning)
    if not reply.get("ok"):
        sock.close()
        from ..runtime.container.manager import reply_error
        error = reply_error(reply)
        if reply.get("status") == InvalidParameter.status:
            raise InvalidParameter(str(error))
        raise error
    _write_cidfile(values, reply["id"])
    if values["detach"]:
        sock.close()
        sys.stdout.write(reply["id"] + "\n")
        return 0
    return relay(sock, interactive, tty)


def _tty_size():
    try:
        size = os.get_terminal_size(sys.stdin.fileno())
        return [size.lines, size.columns]
    except OSError:
        return None


def attached_start(containers, ref, interactive, tty, already_running=False):
    """Start (or attach to) a container and relay its streams until it exits."""
    if already_running:
        sock = containers.attach(ref, stdin=interactive)
    else:
        sock = containers.start(ref, attach=True, stdin=interactive, tty_size=_tty_size() if tty else None)
    return relay(sock, interactive, tty)


def relay(sock, interactive, tty):
    """Copy stdin to the socket and frames to stdout/stderr until the exit frame."""
    from ..runtime.container.protocol import STREAM_EXIT, decode
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
                    if stream == STREAM_EXIT:
                        return decode(payload)["exit"]
                    out[stream].write(payload)
                    out[stream].flush()
    finally:
        if saved is not None:
            import termios
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
        sock.close()


def cmd_attach(argv, context):
    from .flags import containers_parser
    parser = containers_parser("attach", "Attach local standard input, output, and error streams to a "
                                         "running container", several=False)
    parser.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    args = parser.parse_args(argv)
    record = context.containers.get(args.container)
    return attached_start(context.containers, record["Id"], not args.no_stdin, record["Config"]["Tty"],
                          already_running=True)


def cmd_exec(argv, context):
    import argparse

    from .flags import parser as make_parser
    parser = make_parser("exec", "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
                         "Run a command in a running container")
    parser.add_argument("-d", "--detach", action="store_true", help="Detached mode: run command in the background")
    parser.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    parser.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    parser.add_argument("--privileged", action="store_true", help="Give extended privileges to the command")
    parser.add_argument("-e", "--env", action="append", default=[], help="Set environment variables")
    parser.add_argument("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])")
    parser.add_argument("-w", "--workdir", help="Working directory inside the container")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    args = parser.parse_args(argv)
    if not args.command:
        parser.error('"berth exec" requires at least 2 arguments.')
    from ..runtime.container import caps, execute, spec, specconv
    record = context.containers.get(args.container)
    plan = specconv.exec_plan(record, args.command, spec.parse_env(args.env), args.user, args.workdir,
                              args.privileged, args.tty, caps.bounding_mask())
    if args.detach:
        null = os.open(os.devnull, os.O_RDWR)
        _, error_r = execute.spawn_exec(record, plan, [null, null, null], detach=True)
        error = execute.read_error(error_r)
        if error:
            raise BerthError(error)
        return 0
    if args.tty:
        return _exec_tty(record, plan, args.interactive)
    # Pipes, never the caller's own descriptors: a host fd inside the container could be
    # reopened through /proc/self/fd (CVE-2016-9962 class).
    in_r, in_w = os.pipe() if args.interactive else (os.open(os.devnull, os.O_RDONLY), None)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    child, error_r = execute.spawn_exec(record, plan, [in_r, out_w, err_w])
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    error = execute.read_error(error_r)
    if error:
        sys.stderr.write("OCI runtime exec failed: %s\n" % error)
    _relay_pipes(in_w, {out_r: sys.stdout.buffer, err_r: sys.stderr.buffer})
    return _exit_status(os.waitpid(child, 0)[1])


def _exec_tty(record, plan, interactive):
    import socket
    import struct

    from ..runtime.container import execute
    plan["tty_size"] = _tty_size()
    parent, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    null = os.open(os.devnull, os.O_RDWR)
    child, error_r = execute.spawn_exec(record, plan, [null, null, null], console_fd=child_sock.fileno())
    child_sock.close()
    os.close(null)
    error = execute.read_error(error_r)
    if error:
        sys.stderr.write("OCI runtime exec failed: %s\n" % error)
    parent.settimeout(10)
    try:
        _, ancillary, _, _ = parent.recvmsg(1, socket.CMSG_LEN(4))
    except OSError:
        ancillary = []
    parent.close()
    if not ancillary:
        os.waitpid(child, 0)
        return 126
    master = struct.unpack("i", ancillary[0][2][:4])[0]
    return _relay_pty(master, child, interactive)


def _exit_status(status):
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
    return _exit_status(os.waitpid(child, 0)[1])
