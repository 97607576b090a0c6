"""What dockerd knows: daemon.json keys by engine version, which of them SIGHUP reloads.

The table lists each key with the first engine release that accepts it in
daemon.json and, for removed keys, the first release that rejects it (dockerd
refuses to start on a key it does not know). Versions are ``(major, minor)``;
1.13 stands for "every engine berth supports" (CentOS 7's docker 1.13.1).
"""
import re

BASELINE = (1, 13)

# key: (since, removed_in or None)
DAEMON_KEYS = {
    "allow-nondistributable-artifacts": ((17, 6), None),
    "api-cors-header": (BASELINE, None),
    "authorization-plugins": (BASELINE, None),
    "bip": (BASELINE, None),
    "bridge": (BASELINE, None),
    "builder": ((18, 9), None),
    "cdi-spec-dirs": ((25, 0), None),
    "cgroup-parent": (BASELINE, None),
    "cluster-advertise": (BASELINE, (23, 0)),
    "cluster-store": (BASELINE, (23, 0)),
    "cluster-store-opts": (BASELINE, (23, 0)),
    "containerd": ((18, 9), None),
    "containerd-namespace": ((20, 10), None),
    "containerd-plugin-namespace": ((20, 10), None),
    "data-root": ((17, 5), None),
    "debug": (BASELINE, None),
    "default-address-pools": ((18, 6), None),
    "default-cgroupns-mode": ((20, 10), None),
    "default-gateway": (BASELINE, None),
    "default-gateway-v6": (BASELINE, None),
    "default-ipc-mode": ((18, 6), None),
    "default-network-opts": ((24, 0), None),
    "default-runtime": (BASELINE, None),
    "default-shm-size": ((17, 6), None),
    "default-ulimits": (BASELINE, None),
    "disable-legacy-registry": (BASELINE, (17, 12)),
    "dns": (BASELINE, None),
    "dns-opts": (BASELINE, None),
    "dns-search": (BASELINE, None),
    "exec-opts": (BASELINE, None),
    "exec-root": (BASELINE, None),
    "experimental": (BASELINE, None),
    "features": ((19, 3), None),
    "fixed-cidr": (BASELINE, None),
    "fixed-cidr-v6": (BASELINE, None),
    "graph": (BASELINE, (23, 0)),
    "group": (BASELINE, None),
    "host-gateway-ip": ((20, 10), None),
    "hosts": (BASELINE, None),
    "icc": (BASELINE, None),
    "init": (BASELINE, None),
    "init-path": (BASELINE, None),
    "insecure-registries": (BASELINE, None),
    "ip": (BASELINE, None),
    "ip-forward": (BASELINE, None),
    "ip-masq": (BASELINE, None),
    "ip6tables": ((20, 10), None),
    "iptables": (BASELINE, None),
    "ipv6": (BASELINE, None),
    "labels": (BASELINE, None),
    "live-restore": (BASELINE, None),
    "log-driver": (BASELINE, None),
    "log-format": ((26, 0), None),
    "log-level": (BASELINE, None),
    "log-opts": (BASELINE, None),
    "max-concurrent-downloads": (BASELINE, None),
    "max-concurrent-uploads": (BASELINE, None),
    "max-download-attempts": ((19, 3), None),
    "metrics-addr": ((17, 3), None),
    "min-api-version": ((25, 0), None),
    "mtu": (BASELINE, None),
    "network-control-plane-mtu": ((17, 6), None),
    "no-new-privileges": ((17, 6), None),
    "node-generic-resources": ((17, 9), None),
    "oom-score-adjust": (BASELINE, None),
    "pidfile": (BASELINE, None),
    "proxies": ((23, 0), None),
    "raw-logs": (BASELINE, None),
    "registry-mirrors": (BASELINE, None),
    "runtimes": (BASELINE, None),
    "seccomp-profile": ((17, 6), None),
    "selinux-enabled": (BASELINE, None),
    "shutdown-timeout": ((17, 5), None),
    "storage-driver": (BASELINE, None),
    "storage-opts": (BASELINE, None),
    "swarm-default-advertise-addr": (BASELINE, None),
    "tls": (BASELINE, None),
    "tlscacert": (BASELINE, None),
    "tlscert": (BASELINE, None),
    "tlskey": (BASELINE, None),
    "tlsverify": (BASELINE, None),
    "userland-proxy": (BASELINE, None),
    "userland-proxy-path": (BASELINE, None),
    "userns-remap": (BASELINE, None),
}

# Keys dockerd applies on SIGHUP (daemon/reload.go); a change limited to these
# reloads the running daemon, and containers keep running.
RELOADABLE_KEYS = frozenset([
    "allow-nondistributable-artifacts",
    "debug",
    "default-runtime",
    "features",
    "insecure-registries",
    "labels",
    "live-restore",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "registry-mirrors",
    "runtimes",
    "shutdown-timeout",
])

# The first engine with ``dockerd --validate``.
VALIDATE_SINCE = (23, 0)

# Command-line flags whose daemon.json key has another name.
FLAG_TO_KEY = {
    "H": "hosts",
    "host": "hosts",
    "b": "bridge",
    "D": "debug",
    "G": "group",
    "g": "graph",
    "l": "log-level",
    "p": "pidfile",
    "s": "storage-driver",
    "add-runtime": "runtimes",
    "authorization-plugin": "authorization-plugins",
    "cluster-store-opt": "cluster-store-opts",
    "default-ulimit": "default-ulimits",
    "dns-opt": "dns-opts",
    "exec-opt": "exec-opts",
    "insecure-registry": "insecure-registries",
    "label": "labels",
    "log-opt": "log-opts",
    "registry-mirror": "registry-mirrors",
    "storage-opt": "storage-opts",
    "default-address-pool": "default-address-pools",
    "cdi-spec-dir": "cdi-spec-dirs",
}


def parse_engine_version(text):
    """``Docker version 20.10.24+dfsg1, build 5d6db84`` (or a bare ``20.10.24``) -> ``(20, 10, 24)``."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    return tuple(int(part) for part in match.groups(default="0"))


def format_version(version):
    return ".".join(str(part) for part in version)


def key_problem(key, version):
    """Why the engine ``version`` would refuse ``key`` in daemon.json, or None when it accepts it."""
    if key not in DAEMON_KEYS:
        return "%r is not a daemon.json key dockerd knows" % key
    since, removed = DAEMON_KEYS[key]
    if version is None:
        return None
    if tuple(version[:2]) < since:
        return "%r needs Docker Engine %s or newer (this host has %s)" % (
            key, format_version(since), format_version(version))
    if removed is not None and tuple(version[:2]) >= removed:
        return "%r was removed in Docker Engine %s (this host has %s)" % (
            key, format_version(removed), format_version(version))
    return None


def flag_key(flag):
    """The daemon.json key a dockerd flag sets: ``--registry-mirror`` -> ``registry-mirrors``."""
    name = flag.lstrip("-").split("=", 1)[0]
    return FLAG_TO_KEY.get(name, name)
