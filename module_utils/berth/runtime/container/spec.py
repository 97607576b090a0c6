"""Container specification: Docker's defaults and the pure parsing of run options.

Everything here is data and pure functions (no syscalls), so the unit tests
feed it strings and compare exact values. The resulting container record uses
Docker Engine API 1.41 field names (``Config``, ``HostConfig``), the shape
``docker inspect`` prints, so the CLI, the API server and the modules share it.
"""
import binascii
import os
import posixpath

from .errors import ContainerError

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


class SpecError(ContainerError):
    """A run option that cannot be honoured; raised before anything is created."""


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
    """'512m' -> 536870912 (Docker's RAMInBytes: binary units, optional 'b')."""
    import re
    match = re.match(r"^(\d+(?:\.\d+)?)\s*([kmgtb]?)b?$", str(text).strip().lower())
    if not match:
        raise SpecError("invalid size: %r" % (text,))
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def parse_env(items, env_files=()):
    """-e KEY=VALUE / -e KEY (taken from the caller's environment, skipped if unset)."""
    result = []
    for item in items:
        if "=" in item:
            result.append(item)
        elif item in os.environ:
            result.append("%s=%s" % (item, os.environ[item]))
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


def command_line(image_config, entrypoint=None, cmd=None):
    """Entrypoint + Cmd as Docker combines them (an --entrypoint resets the image's Cmd)."""
    if entrypoint is not None:
        entry = [entrypoint] if entrypoint else []
        args = list(cmd or [])
    else:
        entry = list(image_config.get("Entrypoint") or [])
        args = list(cmd) if cmd else list(image_config.get("Cmd") or [])
    argv = entry + args
    if not argv:
        raise SpecError("No command specified")
    return argv


def build_record(container_id, name, image_id, image_ref, image_config, options, created):
    """The container record (Docker inspect shape) from an image config and run options."""
    ic = image_config or {}
    entrypoint = options.get("entrypoint")
    argv = command_line(ic, entrypoint, options.get("cmd"))
    memory, memory_swap = resolve_memory(options.get("memory", 0), options.get("memory_swap", 0))
    pids_limit = options.get("pids_limit")
    if pids_limit is None:
        pids_limit = DEFAULT_PIDS_LIMIT
    network = options.get("network") or "bridge"
    if network not in ("bridge", "host", "none"):
        raise SpecError("network %s not found" % network)
    if options.get("publish") and network != "bridge":
        raise SpecError("published ports need --network bridge")
    hostname = options.get("hostname") or container_id[:12]
    if network == "host":
        hostname = options.get("hostname") or os.uname()[1]
    working_dir = check_working_dir(options.get("workdir") or ic.get("WorkingDir") or "")
    config = {
        "Hostname": hostname,
        "Domainname": "",
        "User": options.get("user") if options.get("user") is not None else (ic.get("User") or ""),
        "AttachStdin": bool(options.get("interactive")),
        "Tty": bool(options.get("tty")),
        "OpenStdin": bool(options.get("interactive")),
        "StdinOnce": bool(options.get("interactive")),
        "Env": merge_env(ic.get("Env") or ["PATH=" + DEFAULT_PATH], parse_env(options.get("env", []))),
        "Cmd": list(options["cmd"]) if options.get("cmd") else (
            list(ic.get("Cmd") or []) if entrypoint is None else []),
        "Entrypoint": ([entrypoint] if entrypoint else None) if entrypoint is not None
        else (ic.get("Entrypoint") or None),
        "Image": image_ref,
        "WorkingDir": working_dir,
        "Labels": dict(options.get("labels") or {}),
        "ExposedPorts": {key: {} for key in port_bindings(options.get("publish", []))},
    }
    host_config = {
        "NetworkMode": "default" if network == "bridge" else network,
        "PortBindings": port_bindings(options.get("publish", [])),
        "Binds": list(options.get("volumes", [])),
        "Privileged": bool(options.get("privileged")),
        "AutoRemove": bool(options.get("rm")),
        "RestartPolicy": parse_restart(options.get("restart")),
        "Memory": memory,
        "MemorySwap": memory_swap,
        "NanoCpus": parse_cpus(options["cpus"]) if options.get("cpus") else 0,
        "CpuShares": int(options.get("cpu_shares") or 0),
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
