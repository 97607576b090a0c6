"""Container lifecycle verbs: start, stop, restart, kill, rm, wait, rename, container prune."""
import sys

from ..common.errors import BerthError
from .flags import containers_parser, parser

CONTAINER_SUBCOMMANDS = {
    "attach": "attach", "create": "create", "exec": "exec", "inspect": "inspect", "kill": "kill",
    "logs": "logs", "ls": "ps", "list": "ps", "prune": "prune", "rename": "rename", "restart": "restart",
    "rm": "rm", "remove": "rm", "run": "run", "start": "start", "stats": "stats", "stop": "stop",
    "top": "top", "wait": "wait",
}


def error_text(err):
    return "Error response from daemon: %s" % err


def _each(refs, action):
    """Docker's multi-container verbs: each name printed when done, each failure reported, exit 1."""
    status = 0
    for ref in refs:
        try:
            action(ref)
            sys.stdout.write(ref + "\n")
        except BerthError as exc:
            sys.stderr.write(error_text(exc) + "\n")
            status = 1
    return status


def cmd_start(argv, context):
    parser_ = containers_parser("start", "Start one or more stopped containers")
    parser_.add_argument("-a", "--attach", action="store_true", help="Attach STDOUT/STDERR and forward signals")
    parser_.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    args = parser_.parse_args(argv)
    containers = context.containers
    if args.attach or args.interactive:
        from .run import attached_start
        record = containers.get(args.containers[0])
        return attached_start(containers, record["Id"], args.interactive, record["Config"]["Tty"],
                              already_running=record["State"]["Running"])
    return _each(args.containers, containers.start)


def _timed(verb, description):
    result = containers_parser(verb, description)
    result.add_argument("-t", "--time", type=int, default=10,
                        help="Seconds to wait for stop before killing it (default 10)")
    return result


def cmd_stop(argv, context):
    args = _timed("stop", "Stop one or more running containers").parse_args(argv)
    return _each(args.containers, lambda ref: context.containers.stop(ref, args.time))


def cmd_restart(argv, context):
    args = _timed("restart", "Restart one or more containers").parse_args(argv)

    def restart(ref):
        context.containers.stop(ref, args.time)
        context.containers.start(ref)
    return _each(args.containers, restart)


def parse_signal(text):
    import signal
    text = str(text).upper()
    if text.isdigit():
        return int(text)
    name = text if text.startswith("SIG") else "SIG" + text
    try:
        return int(getattr(signal, name))
    except AttributeError:
        raise BerthError("Invalid signal: %s" % text) from None


def cmd_kill(argv, context):
    parser_ = containers_parser("kill", "Kill one or more running containers")
    parser_.add_argument("-s", "--signal", default="KILL", help='Signal to send to the container (default "KILL")')
    args = parser_.parse_args(argv)
    signum = parse_signal(args.signal)
    return _each(args.containers, lambda ref: context.containers.kill(ref, signum))


def cmd_rm(argv, context):
    parser_ = containers_parser("rm", "Remove one or more containers")
    parser_.add_argument("-f", "--force", action="store_true",
                         help="Force the removal of a running container (uses SIGKILL)")
    parser_.add_argument("-v", "--volumes", action="store_true",
                         help="Remove anonymous volumes associated with the container")
    args = parser_.parse_args(argv)
    return _each(args.containers, lambda ref: context.containers.remove(ref, force=args.force,
                                                                        volumes=args.volumes))


def cmd_wait(argv, context):
    args = containers_parser("wait", "Block until one or more containers stop, then print their exit "
                                     "codes").parse_args(argv)
    status = 0
    for ref in args.containers:
        try:
            sys.stdout.write("%s\n" % context.containers.wait(ref))
        except BerthError as exc:
            sys.stderr.write(error_text(exc) + "\n")
            status = 1
    return status


def cmd_rename(argv, context):
    parser_ = parser("rename", "rename CONTAINER NEW_NAME", "Rename a container")
    parser_.add_argument("container", metavar="CONTAINER")
    parser_.add_argument("new_name", metavar="NEW_NAME")
    args = parser_.parse_args(argv)
    context.containers.rename(args.container, args.new_name)
    return 0


def cmd_prune(argv, context):
    parser_ = parser("container prune", "container prune [OPTIONS]", "Remove all stopped containers")
    parser_.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    args = parser_.parse_args(argv)
    if not args.force:
        sys.stdout.write("WARNING! This will remove all stopped containers.\n"
                         "Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed = context.containers.prune()
    if removed:
        sys.stdout.write("Deleted Containers:\n%s\n\n" % "\n".join(removed))
    sys.stdout.write("Total reclaimed space: 0B\n")
    return 0


def cmd_container(argv, context):
    """``berth container VERB``: the container verbs under the management command."""
    if not argv or argv[0] not in CONTAINER_SUBCOMMANDS:
        sys.stderr.write("Usage:  berth container COMMAND\n\nManage containers\n\nCommands:\n%s"
                         % "".join("  %s\n" % c for c in sorted(CONTAINER_SUBCOMMANDS)))
        return 0 if not argv else 1
    verb = CONTAINER_SUBCOMMANDS[argv[0]]
    if verb == "prune":
        return cmd_prune(argv[1:], context)
    from .main import VERBS
    module_name, handler, _ = VERBS[verb]
    module = __import__("%s.%s" % (__package__, module_name), fromlist=[handler])
    return getattr(module, handler)(argv[1:], context)
