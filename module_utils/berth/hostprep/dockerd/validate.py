"""Checks on single values: addresses, CIDRs, mirror URLs, registries, proxies.

Each check returns the normalised value or raises DockerdConfigError naming the
setting and what to write instead.
"""
import ipaddress
import re

from .errors import DockerdConfigError

HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
URL = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?:(?P<userinfo>[^@/]*)@)?(?P<hostport>[^/?#]*)"
                 r"(?P<path>[^?#]*)(?P<rest>[?#].*)?$", re.I)


def _text(value):
    return value if isinstance(value, str) else str(value)


def interface(setting, value):
    """An IPv4/IPv6 interface ``ADDRESS/PREFIX``."""
    try:
        if "/" not in _text(value):
            raise ValueError("no prefix length")
        return ipaddress.ip_interface(_text(value))
    except ValueError:
        raise DockerdConfigError(setting, "%r is not an address with a prefix length (e.g. 172.17.0.1/16)" % value)


def network(setting, value):
    """A network in CIDR form whose host bits are zero: ``10.200.0.0/16``."""
    try:
        return ipaddress.ip_network(_text(value), strict=True)
    except ValueError as exc:
        raise DockerdConfigError(setting, "%r is not a network in CIDR form (%s)" % (value, exc))


def bridge_ip(setting, value):
    """``bip`` is the bridge's own (gateway) address: 172.17.0.1/16, not the network 172.17.0.0/16."""
    iface = interface(setting, value)
    net = iface.network
    if net.prefixlen >= net.max_prefixlen - 1:
        raise DockerdConfigError(setting, "%r leaves no room for containers; use a prefix of /%d or shorter"
                                 % (value, net.max_prefixlen - 2))
    if iface.ip == net.network_address:
        raise DockerdConfigError(setting, "%r is the network address; bip is the bridge's gateway address: "
                                 "write %s/%d" % (value, net.network_address + 1, net.prefixlen))
    if net.version == 4 and iface.ip == net.broadcast_address:
        raise DockerdConfigError(setting, "%r is the broadcast address; write %s/%d"
                                 % (value, net.network_address + 1, net.prefixlen))
    return "%s/%d" % (iface.ip, net.prefixlen)


def host_port(setting, value, default_port=None):
    """``HOST[:PORT]`` where HOST is a name, an IPv4 address or a bracketed IPv6 address."""
    text = _text(value)
    match = re.match(r"^\[(?P<v6>[0-9A-Fa-f:.]+)\](?::(?P<p6>\d+))?$|^(?P<host>[^:\[\]]+)(?::(?P<port>\d+))?$", text)
    if not match:
        raise DockerdConfigError(setting, "%r is not HOST or HOST:PORT (write IPv6 addresses as [ADDR]:PORT)" % value)
    host = match.group("v6") or match.group("host")
    port = match.group("p6") or match.group("port")
    if match.group("v6"):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise DockerdConfigError(setting, "%r: %r is not an IPv6 address" % (value, host))
    elif not HOSTNAME.match(host):
        raise DockerdConfigError(setting, "%r: %r is not a host name or address" % (value, host))
    if port is not None and not 0 < int(port) < 65536:
        raise DockerdConfigError(setting, "%r: port %s is out of range 1-65535" % (value, port))
    if port is None and default_port is not None:
        raise DockerdConfigError(setting, "%r has no port; write %s:%d" % (value, text, default_port))
    return text


def insecure_registry(setting, value):
    """A registry ``HOST[:PORT]`` or a CIDR, without a scheme (dockerd refuses ``http://``)."""
    text = _text(value)
    if "://" in text:
        raise DockerdConfigError(setting, "%r must not contain a scheme; write %s"
                                 % (value, text.split("://", 1)[1].rstrip("/")))
    if "/" in text:
        return str(network(setting, text))
    return host_port(setting, text)


def mirror_url(setting, value):
    """A registry mirror: ``http(s)://HOST[:PORT]`` with no path, credentials, query or fragment."""
    text = _text(value)
    match = URL.match(text)
    if not match or match.group("scheme").lower() not in ("http", "https"):
        raise DockerdConfigError(setting, "%r is not an http:// or https:// URL (e.g. https://mirror.example:5000)"
                                 % value)
    if match.group("userinfo") is not None:
        raise DockerdConfigError(setting, "%r must not carry credentials; use docker login on the host" % value)
    if match.group("path") not in ("", "/") or match.group("rest"):
        raise DockerdConfigError(setting, "%r must not have a path, query or fragment; write %s://%s"
                                 % (value, match.group("scheme"), match.group("hostport")))
    host_port(setting, match.group("hostport"))
    return "%s://%s/" % (match.group("scheme").lower(), match.group("hostport"))


def proxy_url(setting, value):
    """An ``http(s)://[USER:PASS@]HOST[:PORT]`` proxy (``socks5://`` too)."""
    text = _text(value)
    match = URL.match(text)
    if not match or match.group("scheme").lower() not in ("http", "https", "socks5", "socks5h"):
        raise DockerdConfigError(setting, "%s is not an http://, https:// or socks5:// URL" % mask_url(text))
    host_port(setting, match.group("hostport"))
    return text


def tcp_address(setting, value):
    """``HOST:PORT`` (or ``tcp://HOST:PORT``) for dockerd's TCP listener."""
    text = _text(value)
    if text.startswith("tcp://"):
        text = text[len("tcp://"):]
    elif "://" in text:
        raise DockerdConfigError(setting, "%r: only tcp:// addresses belong here" % value)
    return "tcp://" + host_port(setting, text.rstrip("/"), default_port=2376)


def mask_url(text):
    """``http://user:secret@proxy:3128`` -> ``http://user:***@proxy:3128``; other text unchanged."""
    return re.sub(r"(://[^:@/\s\"]*):([^@/\s\"]*)@", r"\1:***@", text)


def url_secrets(text):
    """The password parts of the URLs in ``text``, for hiding wherever they would be printed."""
    return [m.group(1) for m in re.finditer(r"://[^:@/\s\"]*:([^@/\s\"]+)@", text or "")]
