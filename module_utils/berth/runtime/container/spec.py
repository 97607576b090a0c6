"""Container specification: Docker's defaults and the pure parsing of run options.

Everything here is data and pure functions (no syscalls), so the unit tests
feed it strings and compare exact values. The resulting container record uses
Docker Engine API 1.41 field names (``Config``, ``HostConfig``), the shape
``docker inspect`` prints, so the CLI, the API server and the modules share it.
"""
import binascii
import os
import posixpath

from .errors import SpecError

# re and random are imported where used: the CLI imports this module on every
# `berth run`, and those two (with enum behind re) would cost it milliseconds.

# Docker's default capability set (moby daemon/pkg/oci/caps/defaults.go).
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

# Docker's MaskedPaths and ReadonlyPaths (moby daemon/pkg/oci/defaults.go).
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = (
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_PIDS_LIMIT = 4096
MIN_MEMORY = 6 * 1024 * 1024  # Docker's linuxMinMemory
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
NAME_PATTERN = r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$"


def new_container_id():
    return binascii.hexlify(os.urandom(32)).decode("ascii")


_ADJECTIVES = ("brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid",
               "merry", "nifty", "proud", "quiet", "sharp", "tender", "vivid", "witty", "zen")
_NOUNS = ("albatross", "beacon", "capstan", "dinghy", "ferry", "galley", "harbor", "jetty",
          "keel", "lantern", "mooring", "pier", "quay", "rudder", "schooner", "tug", "wharf")


def random_name(taken):
    import random
    for _ in range(100):
        name = "%s_%s" % (random.choice(_ADJECTIVES), random.choice(_NOUNS))
        if name not in taken:
            return name
    return "%s_%s_%d" % (random.choice(_ADJECTIVES), random.choice(_NOUNS), random.randint(1, 1 << 20))


def validate_name(name):
    import re
    if not re.match(NAME_PATTERN, name):
        raise SpecError("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" % name)
    return name.lstrip("/")


def parse_bytes(text):
    """'512m' -> 536870912 (Docker's RAMInBytes: binary units, optional 'b').

    Parsed by hand: ``-m`` is on the run path, which must not import re.
    """
    rest = str(text).strip().lower()
    if rest.endswith("b") and rest[:-1][-1:] in tuple("kmgt"):
        rest = rest[:-1]
    unit = rest[-1:] if rest[-1:] in _UNITS else ""
    number = rest[:len(rest) - len(unit)].rstrip()
    whole, dot, fraction = number.partition(".")
    if not whole.isdigit() or (dot and not fraction.isdigit()):
        raise SpecError("invalid size: %r" % (text,))
    return int(float(number) * _UNITS[unit])


def parse_env(items, environ=None):
    """-e KEY=VALUE / -e KEY (taken from the caller's environment, skipped if unset)."""
    environ = os.environ if environ is None else environ
    result = []
    for item in items:
        if "=" in item:
            result.append(item)
        elif item in environ:
            result.append("%s=%s" % (item, environ[item]))
    return result


def merge_env(image_env, extra_env):
    """Image env first, then -e overrides by key, order kept as Docker does."""
    order = []
    values = {}
    for item in list(image_env or []) + list(extra_env or []):
        key = item.split("=", 1)[0]
        if key not in values:
            order.append(key)
        values[key] = item
    return [values[key] for key in order]


def parse_publish(spec):
    """'[ip:][hostPort:]containerPort[/proto]' -> (host_ip, host_port, container_port, proto)."""
    proto = "tcp"
    if "/" in spec:
        spec, proto = spec.rsplit("/", 1)
        if proto not in ("tcp", "udp", "sctp"):
            raise SpecError("invalid proto: %s" % proto)
    parts = spec.split(":")
    if len(parts) == 1:
        host_ip, host_port, container_port = "", "", parts[0]
    elif len(parts) == 2:
        host_ip, (host_port, container_port) = "", parts
    elif len(parts) == 3:
        host_ip, host_port, container_port = parts
    else:
        raise SpecError("invalid publish spec: %s" % spec)
    try:
        container_port = int(container_port)
        host_port = int(host_port) if host_port else 0
    except ValueError:
        raise SpecError("invalid port in publish spec: %s" % spec) from None
    if not 0 < container_port < 65536 or not 0 <= host_port < 65536:
        raise SpecError("port out of range in publish spec: %s" % spec)
    return host_ip, host_port, container_port, proto


def port_bindings(publish):
    """Docker's HostConfig.PortBindings and Config.ExposedPorts from -p specs."""
    bindings = {}
    for spec in publish:
        host_ip, host_port, container_port, proto = parse_publish(spec)
        key = "%d/%s" % (container_port, proto)
        bindings.setdefault(key, []).append(
            {"HostIp": host_ip, "HostPort": str(host_port) if host_port else ""})
    return bindings


def parse_volume(spec):
    """'-v src:dst[:ro|rw]' -> dict(Type, Source, Destination, RW); 'dst' alone = anonymous."""
    import re
    parts = spec.split(":")
    mode = "rw"
    if len(parts) >= 2 and parts[-1] in ("ro", "rw", "z", "Z", "ro,z", "rw,z"):
        mode = parts.pop().split(",")[0]
    if len(parts) == 1:
        source, destination, kind = "", parts[0], "volume"
    elif len(parts) == 2:
        source, destination = parts
        kind = "bind" if source.startswith("/") else "volume"
    else:
        raise SpecError("invalid volume specification: %s" % spec)
    if not destination.startswith("/"):
        raise SpecError("invalid volume specification: %s: destination must be absolute" % spec)
    if kind == "volume" and source and not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$", source):
        raise SpecError("invalid volume name: %s" % source)
    return {"Type": kind, "Source": source, "Destination": posixpath.normpath(destination),
            "RW": mode != "ro", "Anonymous": kind == "volume" and not source}


def parse_restart(text):
    """'on-failure:3' -> {'Name': 'on-failure', 'MaximumRetryCount': 3}."""
    name, _, count = (text or "no").partition(":")
    if name not in RESTART_POLICIES:
        raise SpecError("invalid restart policy: %s" % text)
    if count and name != "on-failure":
        raise SpecError("maximum retry count cannot be used with restart policy '%s'" % name)
    return {"Name": name, "MaximumRetryCount": int(count) if count else 0}


def parse_cpus(text):
    """'--cpus 0.5' -> NanoCpus 500000000."""
    try:
        value = float(text)
    except ValueError:
        raise SpecError("invalid --cpus value: %r" % (text,)) from None
    if value <= 0:
        raise SpecError("--cpus must be positive")
    return int(round(value * 1e9))


def resolve_memory(memory, memory_swap):
    """Docker's rule: --memory without --memory-swap means swap total = 2 x memory."""
    if memory and memory < MIN_MEMORY:
        raise SpecError("Minimum memory limit allowed is 6MB")
    if memory_swap and memory_swap > 0 and memory and memory_swap < memory:
        raise SpecError("Minimum memoryswap limit should be larger than memory limit")
    if memory_swap and not memory:
        raise SpecError("You should always set the Memory limit when using Memoryswap limit")
    if memory and not memory_swap:
        memory_swap = 2 * memory
    return memory or 0, memory_swap or 0


def check_working_dir(path):
    """WorkingDir must be absolute and must not point into /proc (CVE-2024-21626 class)."""
    if not path:
        return ""
    if not path.startswith("/"):
        raise SpecError("the working directory '%s' is invalid, it needs to be an absolute path" % path)
    normal = posixpath.normpath(path)
    if normal == "/proc" or normal.startswith("/proc/"):
        raise SpecError("the working directory '%s' is refused: it lies in /proc" % path)
    return normal


def command_line(entrypoint, cmd):
    """Entrypoint + Cmd as the container runs them: Path and Args."""
    argv = list(entrypoint or []) + list(cmd or [])
    if not argv:
        raise SpecError("No command specified")
    return argv


def merge_image_config(body, image_config):
    """The image's defaults under the caller's body, as dockerd merges them (daemon.merge).

    An entrypoint given by the caller (even ``[""]``, docker's ``--entrypoint ""``) replaces
    the image's and with it the image's Cmd; labels, exposed ports and env are merged,
    the caller's winning key by key.
    """
    ic = image_config or {}
    entrypoint = body.get("Entrypoint")
    cmd = list(body.get("Cmd") or [])
    if not entrypoint:
        entrypoint = ic.get("Entrypoint") or None
        if not cmd:
            cmd = list(ic.get("Cmd") or [])
    elif entrypoint == [""]:
        entrypoint = None
    labels = dict(ic.get("Labels") or {})
    labels.update(body.get("Labels") or {})
    exposed = dict(ic.get("ExposedPorts") or {})
    exposed.update(body.get("ExposedPorts") or {})
    return {
        "Entrypoint": entrypoint,
        "Cmd": cmd,
        "Env": merge_env(ic.get("Env") or ["PATH=" + DEFAULT_PATH], body.get("Env") or []),
        "User": body.get("User") or ic.get("User") or "",
        "WorkingDir": check_working_dir(body.get("WorkingDir") or ic.get("WorkingDir") or ""),
        "Labels": labels,
        "ExposedPorts": exposed,
    }


NETWORK_MODES = ("default", "bridge", "host", "none")


def check_host_config(host):
    """dockerd's refusals of a HostConfig, with its words; returns the network mode."""
    network = host.get("NetworkMode") or "default"
    if network not in NETWORK_MODES:
        raise SpecError("network %s not found" % network)
    if host.get("PortBindings") and network in ("host", "none"):
        raise SpecError("conflicting options: port publishing and the container type network mode")
    policy = host.get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    if name not in RESTART_POLICIES:
        raise SpecError("invalid restart policy '%s'" % name)
    if name != "on-failure" and policy.get("MaximumRetryCount"):
        raise SpecError("maximum retry count cannot be used with restart policy '%s'" % name)
    if (policy.get("MaximumRetryCount") or 0) < 0:
        raise SpecError("maximum retry count cannot be negative")
    if host.get("AutoRemove") and name != "no":
        raise SpecError("can't create 'AutoRemove' container with restart policy")
    for bind in host.get("Binds") or []:
        parse_volume(bind)
    return network


def build_record(container_id, name, image_id, body, image_config, created):
    """The container record (Docker inspect shape) from an Engine API create body and the image.

    ``body`` is what ``POST /containers/create`` carries (options.to_body builds it from
    CLI flags); everything refused is refused here, before anything is created.
    """
    host = body.get("HostConfig") or {}
    network = check_host_config(host)
    merged = merge_image_config(body, image_config)
    argv = command_line(merged["Entrypoint"], merged["Cmd"])
    memory, memory_swap = resolve_memory(host.get("Memory") or 0, host.get("MemorySwap") or 0)
    pids_limit = host.get("PidsLimit")
    if pids_limit is None:
        pids_limit = DEFAULT_PIDS_LIMIT
    hostname = body.get("Hostname") or (os.uname()[1] if network == "host" else container_id[:12])
    interactive = bool(body.get("OpenStdin"))
    config = {
        "Hostname": hostname,
        "Domainname": body.get("Domainname") or "",
        "User": merged["User"],
        "AttachStdin": bool(body.get("AttachStdin")),
        "Tty": bool(body.get("Tty")),
        "OpenStdin": interactive,
        "StdinOnce": bool(body.get("StdinOnce")),
        "Env": merged["Env"],
        "Cmd": merged["Cmd"],
        "Entrypoint": merged["Entrypoint"],
        "Image": body.get("Image") or "",
        "WorkingDir": merged["WorkingDir"],
        "Labels": merged["Labels"],
        "ExposedPorts": merged["ExposedPorts"],
    }
    host_config = {
        "NetworkMode": network,
        "PortBindings": dict(host.get("PortBindings") or {}),
        "Binds": list(host.get("Binds") or []),
        "Privileged": bool(host.get("Privileged")),
        "AutoRemove": bool(host.get("AutoRemove")),
        "RestartPolicy": {"Name": (host.get("RestartPolicy") or {}).get("Name") or "no",
                          "MaximumRetryCount": (host.get("RestartPolicy") or {}).get("MaximumRetryCount") or 0},
        "Memory": memory,
        "MemorySwap": memory_swap,
        "NanoCpus": int(host.get("NanoCpus") or 0),
        "CpuShares": int(host.get("CpuShares") or 0),
        "PidsLimit": int(pids_limit),
    }
    return {
        "Id": container_id,
        "Created": created,
        "Path": argv[0],
        "Args": argv[1:],
        "Name": "/" + name,
        "Image": image_id,
        "Config": config,
        "HostConfig": host_config,
        "Mounts": [],
        "RestartCount": 0,
        "State": {
            "Status": "created", "Running": False, "Paused": False, "Restarting": False,
            "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
            "StartedAt": "0001-01-01T00:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z",
        },
        "NetworkSettings": {"IPAddress": "", "Gateway": "", "IPPrefixLen": 0, "MacAddress": "",
                            "Ports": {}, "Bridge": ""},
    }
