"""build_plan: the candidate daemon.json and drop-in, every refusal, restart vs reload, masking."""
import json
import os

import pytest
from berth.hostprep.dockerd import config
from berth.hostprep.dockerd.diff import ansible_diff, key_changes
from berth.hostprep.dockerd.errors import DockerdConfigError

DEBIAN = "/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS"
V20 = (20, 10, 24)
V24 = (24, 0, 7)


def plan(current=None, drop_in=None, version=V20, exec_start=DEBIAN, **params):
    params.setdefault("unix_socket", "/var/run/docker.sock")
    text = json.dumps(current) if isinstance(current, dict) else current
    return config.build_plan(params, text, drop_in, exec_start, version)


def refusal(**kwargs):
    with pytest.raises(DockerdConfigError) as info:
        plan(**kwargs)
    return str(info.value)


@pytest.fixture
def tls_files(tmp_path):
    paths = {}
    for name, text in (("ca.pem", "-----BEGIN CERTIFICATE-----\nx\n"), ("server.pem", "-----BEGIN CERTIFICATE-----\n"),
                       ("server-key.pem", "-----BEGIN PRIVATE KEY-----\n")):
        path = tmp_path / name
        path.write_text(text)
        os.chmod(str(path), 0o400 if "key" in name else 0o444)
        paths[name] = str(path)
    return {"tls_ca_cert": paths["ca.pem"], "tls_cert": paths["server.pem"], "tls_key": paths["server-key.pem"]}


def test_runbook_flags_render_into_daemon_json_and_drop_in(tls_files):
    result = plan(tcp="0.0.0.0:2376", registry_mirrors=["https://mirror.lan:5000"],
                  insecure_registries=["registry.lan:5000"], selinux_enabled=True, bip="172.31.0.1/16",
                  http_proxy="http://u:secret@proxy.lan:3128", https_proxy="http://proxy.lan:3128",
                  no_proxy="localhost, .lan", **tls_files)
    assert result.after == {
        "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"],
        "registry-mirrors": ["https://mirror.lan:5000/"],
        "insecure-registries": ["registry.lan:5000"],
        "selinux-enabled": True,
        "bip": "172.31.0.1/16",
        "tlsverify": True,
        "tlscacert": tls_files["tls_ca_cert"],
        "tlscert": tls_files["tls_cert"],
        "tlskey": tls_files["tls_key"],
    }
    assert result.drop_in_after.splitlines()[3:] == [
        "[Service]",
        "ExecStart=",
        "ExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock",
        "Environment=HTTPS_PROXY=http://proxy.lan:3128",
        "Environment=HTTP_PROXY=http://u:secret@proxy.lan:3128",
        "Environment=NO_PROXY=localhost,.lan",
    ]
    assert result.secrets == ["secret"]
    assert result.action == "restart"
    assert result.warnings == []


def test_engine_23_also_gets_proxies_in_daemon_json():
    result = plan(version=V24, http_proxy="http://u:secret@proxy.lan:3128", no_proxy="localhost")
    assert result.after["proxies"] == {"http-proxy": "http://u:secret@proxy.lan:3128", "no-proxy": "localhost"}
    diff = ansible_diff(result, "/etc/docker/daemon.json", "/etc/systemd/system/docker.service.d/berth.conf")
    assert "secret" not in json.dumps(diff)
    assert '"http-proxy": "http://u:***@proxy.lan:3128"' in diff[0]["after"]
    assert "Environment=HTTP_PROXY=http://u:***@proxy.lan:3128" in diff[1]["after"]
    assert key_changes(result.before, result.after)[-1] == {
        "key": "proxies", "before": None,
        "after": {"http-proxy": "http://u:***@proxy.lan:3128", "no-proxy": "localhost"}}


def test_bip_with_bridge_is_refused():
    assert refusal(bip="172.31.0.1/16", bridge="br0").startswith(
        "bip: bip and bridge are mutually exclusive "
        "(dockerd: \"You specified -b & --bip, mutually exclusive options\")")


def test_bip_written_by_hand_gives_way_to_a_bridge_setting():
    result = plan(current={"bip": "172.30.0.1/16"}, bridge="br0")
    assert result.after == {"bridge": "br0", "hosts": ["unix:///var/run/docker.sock"]}
    assert result.changed_keys == ["bip", "bridge", "hosts"]


def test_bip_network_address_is_refused():
    assert refusal(bip="172.17.0.0/16") == (
        "bip: '172.17.0.0/16' is the network address; bip is the bridge's gateway address: write 172.17.0.1/16")


def test_tcp_without_tls_is_refused_unless_acknowledged():
    assert refusal(tcp="0.0.0.0:2375") == (
        "tcp: tcp://0.0.0.0:2375 without TLS gives anyone who reaches the port root on the host (CIS Docker 2.7): "
        "set tls_ca_cert, tls_cert and tls_key (the docker_daemon role generates them), or tcp_insecure_ack: true "
        "to accept the risk")
    result = plan(tcp="0.0.0.0:2375", tcp_insecure_ack=True)
    assert result.after["hosts"] == ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]
    assert "tlsverify" not in result.after
    assert result.warnings == ["dockerd listens on tcp://0.0.0.0:2375 without TLS: the port is root-equivalent for "
                               "anyone who reaches it (CIS Docker 2.7)"]


def test_tls_files_missing_partial_or_key_readable_by_others(tls_files, tmp_path):
    missing = dict(tls_files, tls_cert=str(tmp_path / "nope.pem"))
    assert refusal(tcp="0.0.0.0:2376", **missing).startswith(
        "tls_cert: %s cannot be read (No such file or directory)" % (tmp_path / "nope.pem"))
    assert refusal(tcp="0.0.0.0:2376", tls_ca_cert=tls_files["tls_ca_cert"]) == (
        "tls_cert: TLS needs tls_ca_cert, tls_cert and tls_key together; missing: tls_cert, tls_key")
    os.chmod(tls_files["tls_key"], 0o644)
    assert refusal(tcp="0.0.0.0:2376", **tls_files) == (
        "tls_key: %s has mode 0644: others can read dockerd's private key; chmod 0400 %s"
        % (tls_files["tls_key"], tls_files["tls_key"]))
    os.chmod(tls_files["tls_key"], 0o400)
    not_a_key = dict(tls_files, tls_key=tls_files["tls_cert"])
    assert refusal(tcp="0.0.0.0:2376", **not_a_key) == "tls_key: %s holds no PEM private key" % tls_files["tls_cert"]
    assert refusal(**tls_files).startswith("tcp: TLS files are given but no tcp listener")


def test_keys_are_gated_by_engine_version():
    assert refusal(options={"default-network-opts": {}}) == (
        "default-network-opts: 'default-network-opts' needs Docker Engine 24.0 or newer (this host has 20.10.24) "
        "(from options); remove it")
    assert refusal(options={"cluster-store": "consul://x"}, version=V24) == (
        "cluster-store: 'cluster-store' was removed in Docker Engine 23.0 (this host has 24.0.7) (from options); "
        "remove it")
    assert refusal(options={"registry-mirror": ["x"]}) == (
        "registry-mirror: 'registry-mirror' is not a daemon.json key dockerd knows (from options); remove it")
    assert refusal(default_address_pools=[{"base": "10.200.0.0/16", "size": 24}], version=(17, 3, 2)) == (
        "default-address-pools: 'default-address-pools' needs Docker Engine 18.6 or newer (this host has 17.3.2) "
        "(from default_address_pools); remove it")


def test_unknown_key_kept_from_existing_file_is_refused_unless_exclusive():
    assert refusal(current={"disable-legacy-registry": True}) == (
        "disable-legacy-registry: 'disable-legacy-registry' was removed in Docker Engine 17.12 (this host has "
        "20.10.24) (from the existing daemon.json); remove it, or set exclusive: true to drop keys berth does "
        "not own")
    assert "disable-legacy-registry" not in plan(current={"disable-legacy-registry": True}, exclusive=True).after


def test_a_setting_named_in_options_is_refused():
    assert refusal(options={"bip": "172.31.0.1/16"}) == (
        "options: 'bip' is given in options but is the module's setting bip; set it there, not both")


def test_flag_in_the_unit_and_key_in_daemon_json_is_refused():
    assert refusal(options={"containerd": "/run/containerd/containerd.sock"}) == (
        "containerd: set both as a dockerd flag in docker.service (%s) and in daemon.json; dockerd refuses to "
        "start: remove it from one of them" % DEBIAN)


def test_unowned_keys_are_kept_unless_exclusive():
    current = {"debug": True, "hosts": ["fd://"], "registry-mirrors": ["https://old.lan/"]}
    kept = plan(current=current)
    assert kept.after == {"debug": True, "hosts": ["unix:///var/run/docker.sock"]}
    assert kept.changed_keys == ["hosts", "registry-mirrors"]
    assert plan(current=current, exclusive=True).after == {"hosts": ["unix:///var/run/docker.sock"]}


def test_broken_json_is_refused_unless_exclusive():
    assert refusal(current="{\"debug\": tru") .startswith(
        "/etc/docker/daemon.json: the existing file is not valid JSON (")
    assert plan(current="{\"debug\": tru", exclusive=True).after == {"hosts": ["unix:///var/run/docker.sock"]}


def test_converged_host_has_no_change():
    first = plan(registry_mirrors=["https://m.lan"], live_restore=True)
    again = plan(current=first.after, drop_in=first.drop_in_after, registry_mirrors=["https://m.lan"],
                 live_restore=True)
    assert (again.changed, again.action, again.changed_keys) == (False, "none", [])


def test_reloadable_change_reloads_and_others_restart():
    base = dict(registry_mirrors=["https://m.lan"], live_restore=True, log_driver="json-file")
    first = plan(**base)
    mirror = plan(current=first.after, drop_in=first.drop_in_after, **dict(base, registry_mirrors=["https://n.lan"]))
    assert (mirror.action, mirror.reload_sufficient, mirror.restart_required) == ("reload", True, False)
    both = plan(current=first.after, drop_in=first.drop_in_after,
                **dict(base, insecure_registries=["r.lan:5000"], live_restore=False))
    assert (both.action, both.changed_keys) == ("reload", ["insecure-registries", "live-restore"])
    log = plan(current=first.after, drop_in=first.drop_in_after, **dict(base, log_driver="local"))
    assert (log.action, log.changed_keys) == ("restart", ["log-driver"])
    proxy = plan(current=first.after, drop_in=first.drop_in_after, **dict(base, http_proxy="http://p.lan:3128"))
    assert (proxy.action, proxy.changed_keys, proxy.drop_in_changed) == ("restart", [], True)


def test_log_opts_and_address_pools_are_normalised():
    result = plan(log_driver="json-file", log_opts={"max-size": "10m", "max-file": 3, "compress": True},
                  default_address_pools=[{"base": "10.200.0.0/16", "size": "24"}], live_restore=False)
    assert result.after["log-opts"] == {"max-size": "10m", "max-file": "3", "compress": "true"}
    assert result.after["default-address-pools"] == [{"base": "10.200.0.0/16", "size": 24}]
    assert result.after["live-restore"] is False
    assert refusal(default_address_pools=[{"base": "10.200.0.0/16", "size": 8}]) == (
        "default_address_pools[0]: size /8 must be between the base's /16 and /32")


def test_unix_socket_mode_group_and_custom_path():
    result = plan(unix_socket_group="dockerops", unix_socket_mode="660", path="/etc/berth/daemon.json")
    assert result.after["group"] == "dockerops"
    assert result.drop_in_after.splitlines()[-2:] == [
        "ExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock --config-file /etc/berth/daemon.json",
        "ExecStartPost=/bin/chmod 0660 /var/run/docker.sock"]
    assert refusal(unix_socket_mode="rw") == "unix_socket_mode: 'rw' is not an octal mode such as 0660"
    assert refusal(unix_socket="") == "unix_socket: dockerd would listen nowhere: set unix_socket, tcp or both"


def test_hand_edit_diff_shows_only_the_edited_key():
    base = dict(registry_mirrors=["https://m.lan"], bip="172.31.0.1/16", live_restore=True)
    first = plan(**base)
    edited = dict(first.after, bip="172.31.9.1/16")
    again = plan(current=edited, drop_in=first.drop_in_after, **base)
    diff = ansible_diff(again, "/etc/docker/daemon.json", "/x.conf")
    assert diff == [{"before_header": "/etc/docker/daemon.json (changed keys)",
                     "after_header": "/etc/docker/daemon.json (changed keys)",
                     "before": '{\n  "bip": "172.31.9.1/16"\n}\n', "after": '{\n  "bip": "172.31.0.1/16"\n}\n'}]
    assert again.action == "restart"
