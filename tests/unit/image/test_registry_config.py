from berth.runtime.image.registry import RegistryConfig, parse_challenge


def test_bearer_challenge_is_parsed():
    header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/a:pull"'
    assert parse_challenge(header) == ("bearer", {"realm": "https://auth.docker.io/token",
                                                  "service": "registry.docker.io",
                                                  "scope": "repository:library/a:pull"})
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})


def test_hub_uses_mirrors_first_then_upstream():
    config = RegistryConfig(mirrors=["https://mirror.example.com/", "http://10.0.0.5:5000"],
                            insecure=["10.0.0.0/8"])
    assert [repr(e) for e in config.endpoints("docker.io")] == [
        "https://mirror.example.com", "http://10.0.0.5:5000", "https://registry-1.docker.io"]
    assert [e.mirror for e in config.endpoints("docker.io")] == [True, True, False]


def test_other_registries_never_use_mirrors():
    config = RegistryConfig(mirrors=["https://mirror.example.com"])
    assert [repr(e) for e in config.endpoints("registry.example.com")] == ["https://registry.example.com"]


def test_insecure_only_when_listed_or_loopback():
    config = RegistryConfig(insecure=["reg.lan:5000", "192.168.0.0/16"])
    assert [repr(e) for e in config.endpoints("reg.lan:5000")] == [
        "https://reg.lan:5000 (TLS unverified)", "http://reg.lan:5000"]
    assert config.is_insecure("192.168.3.4:5000")
    assert config.is_insecure("127.0.0.1:5000")
    assert config.is_insecure("localhost:5000")
    assert config.is_insecure("[::1]:5000")
    assert not config.is_insecure("reg.lan:5001")
    assert not config.is_insecure("10.1.1.1:5000")
    assert not RegistryConfig(loopback_insecure=False).is_insecure("127.0.0.1:5000")


def test_daemon_json_settings(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"registry-mirrors": ["https://m.example"], "insecure-registries": ["r:5000"]}')
    config = RegistryConfig.from_daemon_json(str(path))
    assert (config.mirrors, config.insecure) == (["https://m.example"], ["r:5000"])
    missing = RegistryConfig.from_daemon_json(str(tmp_path / "none.json"))
    assert (missing.mirrors, missing.insecure) == ([], [])


def test_pagination_link_header():
    from berth.runtime.image.registry import _next_page
    assert _next_page('</v2/_catalog?last=b&n=2>; rel="next"') == "/v2/_catalog?last=b&n=2"
    assert _next_page('<https://r.example/v2/x/tags/list?n=5&last=t>; rel="next"') == "/v2/x/tags/list?n=5&last=t"
    assert _next_page(None) is None
