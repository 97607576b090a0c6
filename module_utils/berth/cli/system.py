"""``berth system boot``: start the store root's supervisor without running a container.

dockerd restarts containers by their restart policy when it starts; berth's
supervisor does the same when it starts (supervisor.Supervisor.adopt_orphans),
and it is started by the first berth command that needs it. At boot nothing
runs a berth command, so a systemd unit (contrib/systemd/berth.service) runs
this verb: it starts the supervisor, waits until the restore is done, and
prints the running containers' names.
"""
import sys

from .flags import parser

SUBCOMMANDS = ("boot",)


def cmd_system(argv, context):
    parser_ = parser("system", "system COMMAND", "Manage berth")
    parser_.add_argument("command", choices=SUBCOMMANDS,
                         help="boot: start the supervisor and restart containers by their policy")
    args = parser_.parse_args(argv)
    if args.command == "boot":
        return cmd_boot(context)
    return 1


def cmd_boot(context):
    containers = context.containers
    reply = containers.start_supervisor()
    for record in containers.list():
        sys.stdout.write(record["Name"].lstrip("/") + "\n")
    sys.stderr.write("berth: supervisor %d holds %d container(s) under %s\n"
                     % (reply["pid"], reply["containers"], containers.root))
    return 0
