"""The berth bridge (like docker0): bridge device, veth per container, NAT and ports.

The bridge and its NAT rules are set up once, on first use; per container the
hot path is netlink only (one veth request whose peer is created directly in
the container's namespace as eth0). iptables is touched per container only
when ports are published.
"""
import ipaddress
import json
import os

from ...common import paths
from ...common.atomic import atomic_write, locked
from . import iptables, netlink
from .ipam import IPAM

DEFAULT_BRIDGE = "berth0"
DEFAULT_BIP = "10.209.0.1/16"


def bridge_settings(environ=None):
    """(bridge name, bip): BERTH_BRIDGE/BERTH_BIP, else daemon.json's "bridge"/"bip" (Docker's
    keys), else berth0 with its default address."""
    environ = os.environ if environ is None else environ
    try:
        with open(paths.daemon_config(environ)) as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    return (environ.get("BERTH_BRIDGE") or config.get("bridge") or DEFAULT_BRIDGE,
            environ.get("BERTH_BIP") or config.get("bip") or DEFAULT_BIP)


def default_network(store_root, environ=None):
    """The bridge containers of ``store_root`` join by default (berth0, or as configured)."""
    name, bip = bridge_settings(environ)
    return BridgeNetwork(store_root, name, bip)


def _write_sysctl(path, value):
    try:
        with open(path) as handle:
            if handle.read().strip() == value:
                return
        with open(path, "w") as handle:
            handle.write(value)
    except OSError:
        pass  # read-only /proc/sys (e.g. inside a lab host): reported by the probe, not fatal here


class BridgeNetwork(object):
    def __init__(self, store_root, name=DEFAULT_BRIDGE, bip=DEFAULT_BIP):
        interface = ipaddress.ip_interface(bip)
        self.name = name
        self.gateway = str(interface.ip)
        self.subnet = str(interface.network)
        self.prefix_len = interface.network.prefixlen
        self.state_dir = os.path.join(store_root, "network", name)
        self.ipam = IPAM(self.state_dir, self.subnet, self.gateway)

    def ensure(self):
        """Create the bridge, its address and rules if missing (idempotent, under a lock)."""
        with locked(os.path.join(self.state_dir, "bridge.lock")):
            index = netlink.link_index(self.name)
            if not index:
                with netlink.Netlink() as nl:
                    nl.create_bridge(self.name)
                    index = netlink.link_index(self.name)
                    nl.add_address(index, self.gateway, self.prefix_len)
                    nl.set_link(index, up=True)
                _write_sysctl("/proc/sys/net/ipv4/conf/%s/route_localnet" % self.name, "1")
                _write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")
                iptables.add_bridge_rules(self.name, self.subnet)
                atomic_write(os.path.join(self.state_dir, "config.json"),
                             json.dumps({"bridge": self.name, "subnet": self.subnet,
                                         "gateway": self.gateway}))
        return index

    def host_veth(self, container_id):
        return "veth" + container_id[:10]

    def reserve(self, container_id):
        """The container's address (before its namespace exists, so /etc/hosts can name it)."""
        self.ensure()
        address = self.ipam.allocate(container_id)
        return {"name": "eth0", "address": address, "subnet": self.subnet, "gateway": self.gateway,
                "prefix_len": self.prefix_len, "bridge": self.name,
                "mac": ":".join("%02x" % b for b in bytearray(netlink.mac_for(address)))}

    def attach(self, container_id, pid, bindings, interface):
        """eth0 for the container (by pid) on the bridge, and its published ports."""
        index = netlink.link_index(self.name) or self.ensure()
        address = interface["address"]
        try:
            with netlink.Netlink() as nl:
                nl.create_veth(self.host_veth(container_id), "eth0", peer_netns_pid=pid,
                               master_index=index, mac=netlink.mac_for(address))
            if bindings:
                iptables.add_port_rules(self.name, address, bindings)
        except BaseException:
            self.detach(container_id, None, [])
            raise
        return interface

    def detach(self, container_id, address, bindings):
        """Undo attach exactly: port rules, the host veth (if the netns has not taken it), the address."""
        if bindings and address:
            iptables.remove_port_rules(self.name, address, bindings)
        veth = self.host_veth(container_id)
        if netlink.link_index(veth):
            try:
                with netlink.Netlink() as nl:
                    nl.delete_link(veth)
            except OSError:
                pass  # gone with the namespace in the meantime
        self.ipam.release(container_id)

    def teardown(self):
        """Remove the bridge, its rules and state (tests; `berth network reset`)."""
        iptables.remove_bridge_rules(self.name, self.subnet)
        if netlink.link_index(self.name):
            with netlink.Netlink() as nl:
                nl.delete_link(self.name)
        for name in ("ipam.json", "config.json"):
            try:
                os.unlink(os.path.join(self.state_dir, name))
            except OSError:
                pass
