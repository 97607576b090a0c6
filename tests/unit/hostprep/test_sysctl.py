import os

import pytest
from berth.hostprep import sysctl
from berth.hostprep.errors import HostprepError

from .helpers import fixture


def test_parse_sysctl_conf_real_file():
    assert sysctl.parse_sysctl_conf(fixture("sysctl-docker-el7.conf")) == [
        ("net.bridge.bridge-nf-call-iptables", "1"),
        ("net.bridge.bridge-nf-call-ip6tables", "1"),
        ("net.ipv4.ip_forward", "1"),
        ("fs.may_detach_mounts", "1"),
        ("net.ipv4.tcp_rmem", "4096 87380 6291456"),
    ]


def test_render_is_sorted_and_normalized():
    text = sysctl.render_sysctl_file({"net.ipv4.ip_forward": 1, "fs.may_detach_mounts": True,
                                      "net.ipv4.tcp_rmem": "4096\t87380  6291456"})
    assert text == (sysctl.HEADER + "fs.may_detach_mounts = 1\nnet.ipv4.ip_forward = 1\n"
                    "net.ipv4.tcp_rmem = 4096 87380 6291456\n")
    assert dict(sysctl.parse_sysctl_conf(text))["net.ipv4.ip_forward"] == "1"


@pytest.mark.parametrize("key", ["", "net..ipv4", "net.ipv4.ip_forward; rm -rf /", "../etc/passwd"])
def test_invalid_keys_are_refused(key):
    with pytest.raises(HostprepError):
        sysctl.proc_path(key)


def test_proc_path():
    assert sysctl.proc_path("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward"
    assert sysctl.proc_path("net/ipv4/conf/eth0.100/rp_filter") == "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"


def _runner(calls):
    def run(argv):
        calls.append(argv)
        return 0, "", ""
    return run


@pytest.fixture
def fake_proc(tmp_path):
    """A /proc/sys-shaped tree of real files: ip_forward=0, no bridge keys (br_netfilter not loaded)."""
    proc = tmp_path / "proc"
    (proc / "net/ipv4").mkdir(parents=True)
    (proc / "net/ipv4/ip_forward").write_text("0\n")
    (tmp_path / "module").mkdir()
    (tmp_path / "etc").mkdir()
    return tmp_path


def test_plan_apply_and_idempotence(fake_proc):
    calls = []
    manager = sysctl.SysctlManager(_runner(calls), str(fake_proc / "proc"), str(fake_proc / "module"))
    path = str(fake_proc / "etc/90-docker.conf")
    plan = manager.plan({"net.ipv4.ip_forward": "1"}, path)
    assert plan["runtime_changes"] == {"net.ipv4.ip_forward": {"before": "0", "after": "1"}}
    assert plan["file_before"] is None
    assert manager.apply(plan, path) == {}
    assert (fake_proc / "proc/net/ipv4/ip_forward").read_text() == "1\n"
    again = manager.plan({"net.ipv4.ip_forward": "1"}, path)
    assert sysctl.SysctlManager.changed(again) is False
    assert calls == []


def test_missing_key_without_module_fails_before_change(fake_proc):
    manager = sysctl.SysctlManager(_runner([]), str(fake_proc / "proc"), str(fake_proc / "module"))
    path = str(fake_proc / "etc/90-docker.conf")
    with pytest.raises(HostprepError, match="net.bridge.bridge-nf-call-iptables does not exist"):
        manager.plan({"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"}, path)
    assert not os.path.exists(path)


def test_missing_key_with_module_to_load_is_planned(fake_proc):
    calls = []
    manager = sysctl.SysctlManager(_runner(calls), str(fake_proc / "proc"), str(fake_proc / "module"))
    modules_file = str(fake_proc / "etc/modules.conf")
    plan = manager.plan({"net.bridge.bridge-nf-call-iptables": "1"}, str(fake_proc / "etc/x.conf"),
                        ["br_netfilter"], modules_file)
    assert plan["modules_to_load"] == ["br_netfilter"]
    assert plan["runtime_changes"] == {"net.bridge.bridge-nf-call-iptables": {"before": None, "after": "1"}}
    assert plan["modules_file_after"].endswith("br_netfilter\n")


def test_loaded_module_is_not_loaded_again(fake_proc):
    (fake_proc / "module/br_netfilter").mkdir()
    manager = sysctl.SysctlManager(_runner([]), str(fake_proc / "proc"), str(fake_proc / "module"))
    plan = manager.plan({"net.ipv4.ip_forward": "0"}, str(fake_proc / "etc/x.conf"), ["br_netfilter"])
    assert plan["modules_to_load"] == []


def test_absent_removes_only_the_file(fake_proc):
    path = fake_proc / "etc/x.conf"
    path.write_text("net.ipv4.ip_forward = 1\n")
    manager = sysctl.SysctlManager(_runner([]), str(fake_proc / "proc"), str(fake_proc / "module"))
    plan = manager.plan({}, str(path), state="absent")
    manager.apply(plan, str(path))
    assert not path.exists()
    assert (fake_proc / "proc/net/ipv4/ip_forward").read_text() == "0\n"


def test_module_not_loaded_when_its_keys_exist(fake_proc):
    # built-in br_netfilter (or a container) shows the keys without /sys/module/br_netfilter
    (fake_proc / "proc/net/bridge").mkdir()
    (fake_proc / "proc/net/bridge/bridge-nf-call-iptables").write_text("0\n")
    calls = []
    manager = sysctl.SysctlManager(_runner(calls), str(fake_proc / "proc"), str(fake_proc / "module"))
    plan = manager.plan({"net.bridge.bridge-nf-call-iptables": "1"}, str(fake_proc / "etc/x.conf"),
                        ["br_netfilter"], str(fake_proc / "etc/modules.conf"))
    assert plan["modules_to_load"] == []
    assert plan["modules_file_changed"] is True
    manager.apply(plan, str(fake_proc / "etc/x.conf"), str(fake_proc / "etc/modules.conf"))
    assert calls == []
    assert (fake_proc / "proc/net/bridge/bridge-nf-call-iptables").read_text() == "1\n"
