"""Verbs that read containers: ps, logs, inspect (containers, then images), top, stats."""
import os
import sys
import time

from ..common import paths
from ..common.errors import BerthError, NotFound
from .flags import containers_parser, parser
from .format import binary_size, human_duration, human_size, print_documents, print_formatted

PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
              "RunningFor": "CREATED", "Status": "STATUS", "State": "STATE", "Ports": "PORTS",
              "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
              "Size": "SIZE"}
PS_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"


def error_text(err):
    return "Error response from daemon: %s" % err


# -- ps ----------------------------------------------------------------------
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
    """Published ports as docker ps prints them; none for a container that is not running."""
    if not record["State"]["Running"]:
        return ""
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
    network = record["HostConfig"]["NetworkMode"]
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
        "Networks": "" if network == "none" else ("bridge" if network == "default" else network),
        "Size": "",
    }


def _matches(record, filters):
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


def cmd_ps(argv, context):
    parser_ = parser("ps", "ps [OPTIONS]", "List containers")
    parser_.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    parser_.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    parser_.add_argument("-n", "--last", type=int, help="Show n last created containers (includes all states)")
    parser_.add_argument("-l", "--latest", action="store_true",
                         help="Show the latest created container (includes all states)")
    parser_.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    parser_.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    parser_.add_argument("-f", "--filter", action="append", default=[],
                         help="Filter output based on conditions provided")
    parser_.add_argument("--format", help="Pretty-print containers using a Go template")
    args = parser_.parse_args(argv)
    filters = [tuple(item.partition("=")[::2]) for item in args.filter]
    show_all = args.all or args.last is not None or args.latest or any(k == "status" for k, _ in filters)
    records = context.containers.list(all_states=show_all)
    now = time.time()
    rows = []
    for record in records:
        if not _matches(record, filters):
            continue
        row = ps_row(record, args.no_trunc, now)
        if args.size:
            row["Size"] = "%s (virtual 0B)" % human_size(container_size(record))
        rows.append(row)
    if args.latest:
        rows = rows[:1]
    elif args.last is not None and args.last >= 0:
        rows = rows[:args.last]
    if args.quiet:
        fmt = "{{.ID}}"
    elif args.format:
        fmt = args.format
    else:
        fmt = PS_TABLE + ("\t{{.Size}}" if args.size else "")
    print_formatted(fmt, rows, PS_HEADERS)
    return 0


# -- logs --------------------------------------------------------------------
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
        raise BerthError("invalid value for \"since\": %s" % text) from None


def _print_entries(entries, timestamps):
    for when, stream, text in entries:
        target = sys.stdout if stream == "stdout" else sys.stderr
        target.write(("%s %s" % (when, text)) if timestamps else text)
        target.flush()


def cmd_logs(argv, context):
    from ..runtime.container import logs
    parser_ = containers_parser("logs", "Fetch the logs of a container", several=False)
    parser_.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    parser_.add_argument("-n", "--tail", help='Number of lines to show from the end of the logs (default "all")')
    parser_.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    parser_.add_argument("--since", help="Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative "
                                         "(e.g. 42m for 42 minutes)")
    args = parser_.parse_args(argv)
    containers = context.containers
    record = containers.get(args.container)
    since = parse_since(args.since) if args.since else None
    entries, offset = logs.read_from(record["LogPath"])
    if since is not None:
        entries = [e for e in entries if logs.parse_time(e[0]) >= since]
    if args.tail not in (None, "all"):
        entries = logs.tail(entries, int(args.tail))
    _print_entries(entries, args.timestamps)
    while args.follow:
        record = containers.get(record["Id"])
        more, offset = logs.read_from(record["LogPath"], offset)
        _print_entries(more, args.timestamps)
        if not record["State"]["Running"] and not more:
            break
        time.sleep(0.1)
    return 0


# -- inspect -----------------------------------------------------------------
def cmd_inspect(argv, context):
    """Containers first; names that are no container go to the image verbs, as docker inspect."""
    parser_ = parser("inspect", "inspect [OPTIONS] NAME|ID [NAME|ID...]",
                     "Return low-level information on containers and images")
    parser_.add_argument("-f", "--format", help="Format the output using the given Go template")
    parser_.add_argument("--type", choices=("container", "image"), help="Return JSON for specified type")
    parser_.add_argument("names", nargs="+", metavar="NAME|ID")
    args = parser_.parse_args(argv)
    if args.type != "image":
        found, rest = [], []
        for name in args.names:
            try:
                found.append(context.containers.get(name))
            except NotFound:
                rest.append(name)
        if found or args.type == "container":
            print_documents(found, args.format)
            for name in rest:
                sys.stderr.write("Error: No such object: %s\n" % name)
            return 1 if rest else 0
    from .images import cmd_image_inspect
    return cmd_image_inspect((["-f", args.format] if args.format else []) + args.names, context)


# -- top / stats -------------------------------------------------------------
def cmd_top(argv, context):
    args = containers_parser("top", "Display the running processes of a container", several=False).parse_args(argv)
    record = context.containers.get(args.container)
    if not record["State"]["Running"]:
        raise BerthError("Container %s is not running" % record["Id"])
    from ..runtime.container import cgroups
    group = cgroups.for_container(record["Id"], paths.cgroup_parent())
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
    print_formatted("table {{.UID}}\t{{.PID}}\t{{.PPID}}\t{{.CMD}}", rows,
                    {"UID": "UID", "PID": "PID", "PPID": "PPID", "CMD": "CMD"})
    return 0


def cmd_stats(argv, context):
    parser_ = parser("stats", "stats [OPTIONS] [CONTAINER...]",
                     "Display a live stream of container(s) resource usage statistics")
    parser_.add_argument("--no-stream", action="store_true", help="Disable streaming stats and only pull the "
                                                                  "first result (the only mode berth has)")
    parser_.add_argument("containers", nargs="*", metavar="CONTAINER")
    args = parser_.parse_args(argv)
    from ..runtime.container import cgroups
    containers = context.containers
    records = [containers.get(r) for r in args.containers] if args.containers else containers.list()
    groups = [(r, cgroups.for_container(r["Id"], paths.cgroup_parent()))
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
                     "CPUPerc": "%.2f%%" % cpu,
                     "MemUsage": "%s / %s" % (binary_size(memory), binary_size(limit)),
                     "MemPerc": "%.2f%%" % (100.0 * memory / limit if limit else 0),
                     "PIDs": str(now.get("pids", 0))})
    print_formatted("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.PIDs}}", rows,
                    {"ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
                     "MemPerc": "MEM %", "PIDs": "PIDS"})
    return 0
