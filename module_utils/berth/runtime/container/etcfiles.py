"""A container's /etc/hostname, /etc/hosts and /etc/resolv.conf, written before each start.

They live in the container's directory and are bind-mounted over the image's
files (Docker's HostnamePath, HostsPath, ResolvConfPath), so a container sees
its own name and address and the host's resolvers.
"""
import os

from ...common.atomic import atomic_write

HOSTS_HEADER = ("127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes",
                "ff02::2\tip6-allrouters")


def host_resolv_conf(text=None):
    """The host's resolv.conf without loopback resolvers (unreachable from a netns)."""
    if text is None:
        try:
            with open("/etc/resolv.conf") as handle:
                text = handle.read()
        except OSError:
            text = ""
    kept = [line for line in text.splitlines()
            if not (line.split()[:1] == ["nameserver"] and line.split()[1:2]
                    and line.split()[1].startswith(("127.", "::1")))]
    if not any(line.startswith("nameserver") for line in kept):
        kept += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(kept) + "\n"


def write(container_dir, record, interface):
    """The three files for a start; ``interface`` is the bridge address (None off the bridge)."""
    def put(name, data):
        # regenerated at every start: no fsync needed
        atomic_write(os.path.join(container_dir, name), data, mode=0o644, durable=False)

    if record["HostConfig"]["NetworkMode"] == "host":
        for name in ("hostname", "hosts", "resolv.conf"):
            try:
                with open("/etc/" + name) as handle:
                    put(name, handle.read())
            except OSError:
                put(name, "")
        return
    hostname = record["Config"]["Hostname"]
    hosts = list(HOSTS_HEADER)
    if interface:
        hosts.append("%s\t%s" % (interface["address"], hostname))
    put("hosts", "\n".join(hosts) + "\n")
    put("hostname", hostname + "\n")
    put("resolv.conf", host_resolv_conf())
