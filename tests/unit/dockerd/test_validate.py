"""Single-value checks: each refusal names the setting and the value to write instead."""
import pytest
from berth.hostprep.dockerd import validate
from berth.hostprep.dockerd.errors import DockerdConfigError


def refusal(func, *args):
    with pytest.raises(DockerdConfigError) as info:
        func(*args)
    return str(info.value)


def test_bip_gateway_address_is_kept():
    assert validate.bridge_ip("bip", "172.17.0.1/16") == "172.17.0.1/16"
    assert validate.bridge_ip("bip", "10.50.3.254/24") == "10.50.3.254/24"


def test_bip_network_address_is_refused_with_the_gateway_to_write():
    assert refusal(validate.bridge_ip, "bip", "172.17.0.0/16") == (
        "bip: '172.17.0.0/16' is the network address; bip is the bridge's gateway address: write 172.17.0.1/16")


def test_bip_broadcast_and_tiny_and_malformed_are_refused():
    assert refusal(validate.bridge_ip, "bip", "10.0.0.255/24") == (
        "bip: '10.0.0.255/24' is the broadcast address; write 10.0.0.1/24")
    assert "leaves no room" in refusal(validate.bridge_ip, "bip", "10.0.0.1/31")
    assert refusal(validate.bridge_ip, "bip", "172.17.0.1") == (
        "bip: '172.17.0.1' is not an address with a prefix length (e.g. 172.17.0.1/16)")
    assert "not an address" in refusal(validate.bridge_ip, "bip", "172.17.300.1/16")


def test_network_needs_zero_host_bits():
    assert str(validate.network("default_address_pools[0]", "10.200.0.0/16")) == "10.200.0.0/16"
    assert refusal(validate.network, "x", "10.200.0.1/16") == (
        "x: '10.200.0.1/16' is not a network in CIDR form (10.200.0.1/16 has host bits set)")


def test_mirror_urls_are_normalised_and_checked():
    assert validate.mirror_url("registry_mirrors", "https://mirror.example:5000") == "https://mirror.example:5000/"
    assert validate.mirror_url("registry_mirrors", "HTTP://10.0.0.5/") == "http://10.0.0.5/"
    assert refusal(validate.mirror_url, "registry_mirrors", "mirror.example:5000") == (
        "registry_mirrors: 'mirror.example:5000' is not an http:// or https:// URL (e.g. https://mirror.example:5000)")
    assert refusal(validate.mirror_url, "registry_mirrors", "https://mirror.example/v2/") == (
        "registry_mirrors: 'https://mirror.example/v2/' must not have a path, query or fragment; "
        "write https://mirror.example")
    assert "must not carry credentials" in refusal(validate.mirror_url, "registry_mirrors", "https://u:p@m.example")
    assert "port 70000 is out of range" in refusal(validate.mirror_url, "registry_mirrors", "https://m.example:70000")


def test_insecure_registries():
    assert validate.insecure_registry("insecure_registries", "registry.lan:5000") == "registry.lan:5000"
    assert validate.insecure_registry("insecure_registries", "10.0.0.0/8") == "10.0.0.0/8"
    assert validate.insecure_registry("insecure_registries", "[fd00::5]:5000") == "[fd00::5]:5000"
    assert refusal(validate.insecure_registry, "insecure_registries", "http://registry.lan:5000/") == (
        "insecure_registries: 'http://registry.lan:5000/' must not contain a scheme; write registry.lan:5000")
    assert refusal(validate.insecure_registry, "insecure_registries", "reg_istry:5000") == (
        "insecure_registries: 'reg_istry:5000': 'reg_istry' is not a host name or address")
    assert "host bits set" in refusal(validate.insecure_registry, "insecure_registries", "10.0.0.1/8")


def test_tcp_address_needs_a_port():
    assert validate.tcp_address("tcp", "0.0.0.0:2376") == "tcp://0.0.0.0:2376"
    assert validate.tcp_address("tcp", "tcp://10.1.2.3:2376") == "tcp://10.1.2.3:2376"
    assert refusal(validate.tcp_address, "tcp", "0.0.0.0") == "tcp: '0.0.0.0' has no port; write 0.0.0.0:2376"
    assert refusal(validate.tcp_address, "tcp", "unix:///x.sock") == (
        "tcp: 'unix:///x.sock': only tcp:// addresses belong here")


def test_proxy_credentials_are_masked_and_collected():
    url = "http://build:p%40ss@proxy.lan:3128"
    assert validate.mask_url(url) == "http://build:***@proxy.lan:3128"
    assert validate.mask_url("Environment=HTTPS_PROXY=https://a:b@p:1 x") == (
        "Environment=HTTPS_PROXY=https://a:***@p:1 x")
    assert validate.mask_url("http://proxy.lan:3128") == "http://proxy.lan:3128"
    assert validate.url_secrets(url) == ["p%40ss"]
    assert validate.proxy_url("http_proxy", url) == url
    assert refusal(validate.proxy_url, "http_proxy", "ftp://u:secret@p:21") == (
        "http_proxy: ftp://u:***@p:21 is not an http://, https:// or socks5:// URL")
