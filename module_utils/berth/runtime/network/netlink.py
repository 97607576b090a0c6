"""rtnetlink over a plain AF_NETLINK socket: links, addresses, routes.

Container start is on the hot path, so bridge, veth, address and route changes
are netlink requests (tens of microseconds each) instead of `ip` processes
(a millisecond or more each). Only the messages berth needs are built here.
"""
import ipaddress
import os
import socket
import struct

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 1, 4, 0x200, 0x400
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_NET_NS_PID, IFLA_NET_NS_FD = 18, 19, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_GATEWAY, RTA_OIF = 5, 4
IFF_UP = 1
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
RT_SCOPE_HOST = 254


class NetlinkError(OSError):
    pass


def _attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def _name(text):
    return text.encode("ascii") + b"\0"


def _ifinfo(index=0, flags=0, change=0):
    return struct.pack("BxHiII", socket.AF_UNSPEC, 0, index, flags, change)


class Netlink(object):
    """One rtnetlink socket in the caller's network namespace."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, msg_type, flags, payload, what):
        self.seq += 1
        header = struct.pack("IHHII", 16 + len(payload), msg_type,
                             flags | NLM_F_REQUEST | NLM_F_ACK, self.seq, 0)
        self.sock.send(header + payload)
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset < len(data):
                length, kind, _, seq, _ = struct.unpack_from("IHHII", data, offset)
                if kind == NLMSG_ERROR and seq == self.seq:
                    code = struct.unpack_from("i", data, offset + 16)[0]
                    if code:
                        raise NetlinkError(-code, "%s: %s" % (what, os.strerror(-code)))
                    return
                offset += (length + 3) & ~3

    # links
    def create_bridge(self, name):
        payload = _ifinfo() + _attr(IFLA_IFNAME, _name(name)) + \
            _attr(IFLA_LINKINFO, _attr(IFLA_INFO_KIND, b"bridge"))
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, payload, "create bridge " + name)

    def create_veth(self, name, peer_name, peer_netns_pid=None, master_index=None, mac=None):
        """A veth pair; the peer is created directly inside the netns of ``peer_netns_pid``."""
        peer = _ifinfo() + _attr(IFLA_IFNAME, _name(peer_name))
        if mac:
            peer += _attr(IFLA_ADDRESS, mac)
        if peer_netns_pid:
            peer += _attr(IFLA_NET_NS_PID, struct.pack("I", peer_netns_pid))
        info = _attr(IFLA_INFO_KIND, b"veth") + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer))
        payload = _ifinfo(flags=IFF_UP, change=IFF_UP) + _attr(IFLA_IFNAME, _name(name))
        if master_index:
            payload += _attr(IFLA_MASTER, struct.pack("I", master_index))
        payload += _attr(IFLA_LINKINFO, info)
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, payload, "create veth " + name)

    def set_link(self, index, up=None, master_index=None, name=None):
        flags = change = 0
        if up is not None:
            change = IFF_UP
            flags = IFF_UP if up else 0
        payload = _ifinfo(index, flags, change)
        if master_index is not None:
            payload += _attr(IFLA_MASTER, struct.pack("I", master_index))
        if name:
            payload += _attr(IFLA_IFNAME, _name(name))
        self.request(RTM_NEWLINK, 0, payload, "set link %d" % index)

    def delete_link(self, name):
        payload = _ifinfo() + _attr(IFLA_IFNAME, _name(name))
        self.request(RTM_DELLINK, 0, payload, "delete link " + name)

    # addresses and routes
    def add_address(self, index, address, prefix_len):
        packed = socket.inet_aton(address)
        payload = struct.pack("BBBBI", socket.AF_INET, prefix_len, 0, RT_SCOPE_UNIVERSE, index)
        payload += _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)
        self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, payload, "add address " + address)

    def add_default_route(self, gateway, index):
        payload = struct.pack("BBBBBBBBI", socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT,
                              RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
        payload += _attr(RTA_GATEWAY, socket.inet_aton(gateway)) + \
            _attr(RTA_OIF, struct.pack("I", index))
        self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, payload, "add default route")


def link_index(name):
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return 0


def mac_for(address):
    """02:42 + the IPv4 bytes: stable, locally administered (Docker's historic scheme)."""
    return b"\x02\x42" + socket.inet_aton(address)


def loopback_up():
    with Netlink() as nl:
        nl.set_link(link_index("lo"), up=True)


def configure_container_side(interface):
    """In the container's netns: lo up, eth0 address and up, default route via the bridge."""
    with Netlink() as nl:
        nl.set_link(link_index("lo"), up=True)
        index = link_index(interface["name"])
        network = ipaddress.ip_network(interface["subnet"])
        nl.add_address(index, interface["address"], network.prefixlen)
        nl.set_link(index, up=True)
        nl.add_default_route(interface["gateway"], index)
