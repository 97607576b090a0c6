"""Pure parsing of run options into Docker-shaped records."""
import pytest
from berth.runtime.container import options, spec


def test_parse_bytes_uses_binary_units():
    assert spec.parse_bytes("512m") == 512 * 1024 * 1024
    assert spec.parse_bytes("1g") == 1024 ** 3
    assert spec.parse_bytes("64k") == 65536
    assert spec.parse_bytes("100") == 100
    assert spec.parse_bytes("1.5g") == int(1.5 * 1024 ** 3)
    with pytest.raises(spec.SpecError):
        spec.parse_bytes("lots")


def test_parse_publish_forms():
    assert spec.parse_publish("8080:80") == ("", 8080, 80, "tcp")
    assert spec.parse_publish("127.0.0.1:8080:80/udp") == ("127.0.0.1", 8080, 80, "udp")
    assert spec.parse_publish("80") == ("", 0, 80, "tcp")
    with pytest.raises(spec.SpecError):
        spec.parse_publish("8080:70000")
    with pytest.raises(spec.SpecError):
        spec.parse_publish("1:2/icmp")


def test_port_bindings_shape_matches_docker():
    assert spec.port_bindings(["8080:80", "127.0.0.1:9090:80"]) == {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": "9090"}]}


def test_parse_volume_bind_named_anonymous():
    assert spec.parse_volume("/srv/data:/data:ro") == {
        "Type": "bind", "Source": "/srv/data", "Destination": "/data", "RW": False, "Anonymous": False}
    assert spec.parse_volume("cache:/var/cache") == {
        "Type": "volume", "Source": "cache", "Destination": "/var/cache", "RW": True, "Anonymous": False}
    assert spec.parse_volume("/scratch")["Anonymous"] is True
    with pytest.raises(spec.SpecError):
        spec.parse_volume("/a:relative")


def test_memory_swap_defaults_to_twice_memory():
    assert spec.resolve_memory(64 << 20, 0) == (64 << 20, 128 << 20)
    assert spec.resolve_memory(64 << 20, -1) == (64 << 20, -1)
    assert spec.resolve_memory(0, 0) == (0, 0)
    with pytest.raises(spec.SpecError):
        spec.resolve_memory(1 << 20, 0)
    with pytest.raises(spec.SpecError):
        spec.resolve_memory(64 << 20, 32 << 20)


def test_restart_policy_parsing():
    assert spec.parse_restart("on-failure:3") == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert spec.parse_restart("always") == {"Name": "always", "MaximumRetryCount": 0}
    with pytest.raises(spec.SpecError):
        spec.parse_restart("always:2")
    with pytest.raises(spec.SpecError):
        spec.parse_restart("sometimes")


def test_working_dir_refusals():
    assert spec.check_working_dir("/srv/../app") == "/app"
    with pytest.raises(spec.SpecError):
        spec.check_working_dir("relative")
    with pytest.raises(spec.SpecError):
        spec.check_working_dir("/proc/self/fd/7")


def _argv(image, **body):
    merged = spec.merge_image_config(body, image)
    return spec.command_line(merged["Entrypoint"], merged["Cmd"])


def test_command_line_combines_entrypoint_and_cmd_like_docker():
    image = {"Entrypoint": ["/entry"], "Cmd": ["--default"]}
    assert _argv(image) == ["/entry", "--default"]
    assert _argv(image, Cmd=["x"]) == ["/entry", "x"]
    assert _argv(image, Entrypoint=["/other"]) == ["/other"]
    assert _argv(image, Entrypoint=[""], Cmd=["sh"]) == ["sh"]
    with pytest.raises(spec.SpecError):
        _argv({})


def test_merge_env_overrides_by_key_keeping_order():
    assert spec.merge_env(["PATH=/bin", "A=1"], ["A=2", "B=3"]) == ["PATH=/bin", "A=2", "B=3"]


def _body(*argv):
    values, image, command = options.parse_cli("run", list(argv))
    return options.to_body(values, image, command, {})[1]


def test_build_record_fields():
    record = spec.build_record("a" * 64, "web", "sha256:" + "b" * 64,
                               _body("-e", "X=1", "--memory", "64m", "--cpus", "0.5", "-p", "8080:80", "--rm",
                                     "busybox", "true"),
                               {"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/w"},
                               "2026-01-01T00:00:00.000000000Z")
    assert record["Path"] == "true" and record["Args"] == []
    assert record["Name"] == "/web"
    assert record["Config"]["Env"] == ["PATH=/bin", "X=1"]
    assert record["Config"]["Hostname"] == "a" * 12
    assert record["Config"]["WorkingDir"] == "/w"
    assert record["Config"]["Cmd"] == ["true"]
    assert record["HostConfig"]["Memory"] == 64 << 20
    assert record["HostConfig"]["MemorySwap"] == 128 << 20
    assert record["HostConfig"]["NanoCpus"] == 500000000
    assert record["HostConfig"]["PidsLimit"] == spec.DEFAULT_PIDS_LIMIT
    assert record["HostConfig"]["AutoRemove"] is True
    assert record["HostConfig"]["NetworkMode"] == "default"
    assert record["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert record["State"]["Status"] == "created"


def test_publish_needs_bridge_network():
    with pytest.raises(spec.SpecError):
        spec.build_record("a" * 64, "x", "i", _body("-p", "1:1", "--network", "host", "img"), {"Cmd": ["sh"]}, "t")


def test_image_labels_and_ports_are_merged_under_the_callers():
    record = spec.build_record("a" * 64, "x", "i", _body("-l", "a=mine", "img"),
                               {"Cmd": ["sh"], "Labels": {"a": "image", "b": "image"},
                                "ExposedPorts": {"53/udp": {}}}, "t")
    assert record["Config"]["Labels"] == {"a": "mine", "b": "image"}
    assert record["Config"]["ExposedPorts"] == {"53/udp": {}}


def test_dockerds_refusals():
    for body, message in (({"HostConfig": {"AutoRemove": True, "RestartPolicy": {"Name": "always"}}},
                           "can't create 'AutoRemove' container with restart policy"),
                          ({"HostConfig": {"RestartPolicy": {"Name": "sometimes"}}},
                           "invalid restart policy 'sometimes'"),
                          ({"HostConfig": {"NetworkMode": "nonet"}}, "network nonet not found")):
        with pytest.raises(spec.SpecError) as caught:
            spec.build_record("a" * 64, "x", "i", dict(body, Cmd=["sh"]), {}, "t")
        assert str(caught.value) == message


def test_names():
    assert spec.validate_name("/web-1") == "web-1"
    with pytest.raises(spec.SpecError):
        spec.validate_name("bad name")
    assert spec.random_name(set()).count("_") == 1
