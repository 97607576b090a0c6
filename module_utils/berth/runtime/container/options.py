"""The container options, declared once: flags, API fields and how one becomes the other.

Every option of ``create``/``run`` is one ``Option`` in ``OPTIONS``. From this
table come the CLI's parser and its ``--help`` (cli/run.py), the Docker Engine
API create body (``to_body``: what ``docker run`` sends to dockerd, and what
berthd, the in-process engine and the supervisor take), and, for the Ansible
modules, the argument spec and the comparison that decides idempotence.

An option names:
* ``name``: its key (the parsed value's key, the module option's name);
* ``flags``: the CLI flags, long first (``-x`` short ones after);
* ``kind``: ``bool``, ``value`` (one string), ``int`` or ``list`` (repeatable);
* ``api``: the body fields it sets (``Config.X`` / ``HostConfig.X``; ``name`` is
  the create call's query parameter); an empty tuple for CLI-only options;
* ``convert``: the parsed value -> the API value (``None`` keeps it as it is);
* ``verbs``: the verbs that take it (``-d`` is run's only);
* ``help``: the one-line description ``--help`` prints.

The run path imports this module: it must stay free of json, re, socket and
signal (each pulls in enum and more, milliseconds per ``berth run``), so what
needs a regular expression (names, volume specs) is checked where the
container is made (spec.build_record), not here.
"""
from . import spec

# What docker's CLI sends when --network is not given: "default" (the bridge).
DEFAULT_NETWORK = "default"


class Option(object):
    __slots__ = ("name", "flags", "kind", "api", "convert", "verbs", "help", "metavar")

    def __init__(self, name, flags, kind, api, help, convert=None, verbs=("create", "run"),
                 metavar=None):
        self.name = name
        self.flags = flags
        self.kind = kind
        self.api = api
        self.convert = convert
        self.verbs = verbs
        self.help = help
        self.metavar = metavar or {"bool": "", "int": "int", "list": "list"}.get(kind, "string")

    def empty(self):
        return [] if self.kind == "list" else (False if self.kind == "bool" else None)


def _labels(items):
    labels = {}
    for item in items:
        key, _, value = item.partition("=")
        labels[key] = value
    return labels


def _entrypoint(text):
    # docker's CLI: --entrypoint "" resets the image's entrypoint (sent as [""])
    return [text]


def _memory_swap(text):
    return -1 if str(text) == "-1" else spec.parse_bytes(text)


OPTIONS = (
    Option("detach", ("--detach", "-d"), "bool", (), "Run container in background and print container ID",
           verbs=("run",)),
    Option("name", ("--name",), "value", ("name",), "Assign a name to the container"),
    Option("env", ("--env", "-e"), "list", ("Config.Env",), "Set environment variables"),
    Option("publish", ("--publish", "-p"), "list", ("HostConfig.PortBindings", "Config.ExposedPorts"),
           "Publish a container's port(s) to the host", convert=spec.port_bindings),
    Option("volume", ("--volume", "-v"), "list", ("HostConfig.Binds",), "Bind mount a volume"),
    Option("workdir", ("--workdir", "-w"), "value", ("Config.WorkingDir",),
           "Working directory inside the container", convert=spec.check_working_dir),
    Option("user", ("--user", "-u"), "value", ("Config.User",),
           "Username or UID (format: <name|uid>[:<group|gid>])"),
    Option("interactive", ("--interactive", "-i"), "bool",
           ("Config.OpenStdin", "Config.AttachStdin", "Config.StdinOnce"),
           "Keep STDIN open even if not attached"),
    Option("tty", ("--tty", "-t"), "bool", ("Config.Tty",), "Allocate a pseudo-TTY"),
    Option("label", ("--label", "-l"), "list", ("Config.Labels",), "Set meta data on a container",
           convert=_labels),
    Option("cidfile", ("--cidfile",), "value", (), "Write the container ID to the file"),
    Option("privileged", ("--privileged",), "bool", ("HostConfig.Privileged",),
           "Give extended privileges to this container"),
    Option("rm", ("--rm",), "bool", ("HostConfig.AutoRemove",),
           "Automatically remove the container when it exits"),
    Option("restart", ("--restart",), "value", ("HostConfig.RestartPolicy",),
           "Restart policy to apply when a container exits (default \"no\")",
           convert=spec.parse_restart),
    Option("memory", ("--memory", "-m"), "value", ("HostConfig.Memory",), "Memory limit",
           convert=spec.parse_bytes, metavar="bytes"),
    Option("memory_swap", ("--memory-swap",), "value", ("HostConfig.MemorySwap",),
           "Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
           convert=_memory_swap, metavar="bytes"),
    Option("cpus", ("--cpus",), "value", ("HostConfig.NanoCpus",), "Number of CPUs",
           convert=spec.parse_cpus, metavar="decimal"),
    Option("cpu_shares", ("--cpu-shares", "-c"), "int", ("HostConfig.CpuShares",),
           "CPU shares (relative weight)"),
    Option("pids_limit", ("--pids-limit",), "int", ("HostConfig.PidsLimit",),
           "Tune container pids limit (set -1 for unlimited)"),
    Option("network", ("--network", "--net"), "value", ("HostConfig.NetworkMode",),
           "Connect a container to a network (bridge, host, none)", metavar="network"),
    Option("hostname", ("--hostname", "-h"), "value", ("Config.Hostname",), "Container host name"),
    Option("entrypoint", ("--entrypoint",), "value", ("Config.Entrypoint",),
           "Overwrite the default ENTRYPOINT of the image", convert=_entrypoint),
)

BY_NAME = {option.name: option for option in OPTIONS}


def for_verb(verb):
    return [option for option in OPTIONS if verb in option.verbs]


def parse_cli(verb, argv):
    """Docker-style parsing of create/run flags, without argparse (it costs a fifth of a short run).

    Flags come before the image (pflag's interspersed=false); ``-it``,
    ``--flag=value``, ``-evalue`` and ``--flag=false`` forms work. Returns
    ``(values, image, command)``; raises ``spec.SpecError`` naming the flag for
    an unknown flag, a missing value or a bad number, and returns None for ``--help``.
    """
    by_flag = {}
    for option in for_verb(verb):
        for flag in option.flags:
            by_flag[flag] = option
    values = {option.name: option.empty() for option in for_verb(verb)}
    args = list(argv)

    def store(option, flag, value):
        if option.kind == "int":
            try:
                value = int(value)
            except ValueError:
                raise spec.SpecError('invalid argument "%s" for "%s" flag: strconv.ParseInt: parsing '
                                     '"%s": invalid syntax' % (value, flag, value)) from None
        if option.kind == "list":
            values[option.name].append(value)
        else:
            values[option.name] = value

    def take(flag):
        if not args:
            raise spec.SpecError("flag needs an argument: %s" % flag)
        return args.pop(0)

    while args and args[0].startswith("-") and args[0] != "-":
        item = args.pop(0)
        if item == "--":
            break
        if item == "--help":
            return None
        if item.startswith("--"):
            flag, eq, value = item.partition("=")
            option = by_flag.get(flag)
            if option is None:
                raise spec.SpecError("unknown flag: %s" % flag)
            if option.kind == "bool":
                values[option.name] = value.lower() not in ("false", "0") if eq else True
            else:
                store(option, flag, value if eq else take(flag))
            continue
        letters = item[1:]
        while letters:
            flag = "-" + letters[0]
            option = by_flag.get(flag)
            if option is None:
                raise spec.SpecError("unknown shorthand flag: '%s' in %s" % (letters[0], item))
            if option.kind == "bool":
                values[option.name] = True
                letters = letters[1:]
                continue
            store(option, flag, letters[1:].lstrip("=") if letters[1:] else take(flag))
            letters = ""
    if not args:
        raise spec.SpecError('"berth %s" requires at least 1 argument.' % verb)
    return values, args[0], args[1:]


def to_body(values, image, command, environ):
    """(name, Engine API create body) from parsed values: what ``docker run`` sends dockerd.

    Each option given sets its ``api`` fields to its converted value; ``-e NAME``
    is resolved from ``environ`` (the caller's environment) first. Conversions
    that refuse bad input (sizes, ports, restart policies) raise
    ``spec.SpecError`` here, before anything is created.
    """
    if values.get("rm") and values.get("restart") not in (None, "", "no"):
        raise spec.SpecError("Conflicting options: --restart and --rm")
    given = dict(values, env=spec.parse_env(values.get("env") or [], environ))
    body = {
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": True,
        "AttachStderr": True, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": [],
        "Cmd": list(command) or None, "Image": image, "Labels": {}, "WorkingDir": "",
        "Entrypoint": None, "ExposedPorts": {},
        "HostConfig": {"NetworkMode": DEFAULT_NETWORK, "PortBindings": {}, "Binds": [],
                       "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}},
    }
    name = None
    for option in OPTIONS:
        value = given.get(option.name)
        if not option.api or value is None or value is False or value == []:
            continue
        converted = option.convert(value) if option.convert else value
        for field in option.api:
            if field == "name":
                name = converted
            elif field == "Config.ExposedPorts":
                body["ExposedPorts"] = {key: {} for key in converted}
            elif field.startswith("HostConfig."):
                body["HostConfig"][field[len("HostConfig."):]] = converted
            else:
                body[field[len("Config."):]] = converted
    return name, body
