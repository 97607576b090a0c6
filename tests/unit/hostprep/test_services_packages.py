import json

import pytest
from berth.hostprep import engine, packages, services
from berth.hostprep.errors import HostprepError

from .helpers import fixture

UNITS = ("firewalld.service", "iptables.service", "netfilter-persistent.service", "docker.service",
         "containerd.service")


def test_systemctl_show_el7():
    states = services.parse_systemctl_show(fixture("systemctl-show-el7"), UNITS)
    assert states["firewalld.service"] == {"installed": True, "active": True, "enabled": True,
                                           "active_state": "active", "unit_file_state": "enabled"}
    assert states["iptables.service"]["installed"] is False
    assert states["docker.service"] == {"installed": True, "active": False, "enabled": False,
                                        "active_state": "inactive", "unit_file_state": "disabled"}


def test_systemctl_show_without_systemd():
    states = services.parse_systemctl_show("", UNITS)
    assert all(state["installed"] is False for state in states.values())


def test_firewall_cmd_state():
    assert services.parse_firewall_cmd_state("running\n") is True
    assert services.parse_firewall_cmd_state("not running\n") is False


@pytest.mark.parametrize(
    "name, expected",
    [("iptables-version-el7", {"version": "1.4.21", "backend": "legacy"}),
     ("iptables-version-debian12", {"version": "1.8.9", "backend": "nf_tables"})],
)
def test_iptables_version(name, expected):
    assert services.parse_iptables_version(fixture(name)) == expected


def test_dpkg_query():
    assert packages.parse_dpkg_query(fixture("dpkg-query-debian12")) == {
        "docker.io": "20.10.24+dfsg1-1+b3", "iptables-persistent": "1.0.20"}


def test_rpm_query():
    assert packages.parse_rpm_query(fixture("rpm-q-el7")) == {
        "yum-utils": "1.1.31-54.el7_8",
        "device-mapper-persistent-data": "0.8.5-3.el7_9.2",
        "lvm2": "7:2.02.187-6.el7_9.5",
        "iptables-services": "1.4.21-35.el7",
    }


def test_madison_newest_first():
    versions = packages.parse_apt_cache_madison(fixture("apt-cache-madison-docker-ce"))
    assert versions["docker-ce"] == ["5:24.0.7-1~debian.12~bookworm", "5:24.0.6-1~debian.12~bookworm",
                                     "5:23.0.6-1~debian.12~bookworm"]
    assert versions["docker.io"] == ["20.10.24+dfsg1-1+b3"]


def test_yum_list_newest_first_and_wrapped_lines():
    versions = packages.parse_yum_list(fixture("yum-list-docker-ce-el7"))
    assert versions["docker-ce"] == ["3:26.1.4-1.el7", "3:20.10.24-3.el7", "3:19.03.15-3.el7",
                                     "17.03.0.ce-1.el7.centos"]
    assert versions["docker-ce-rootless-extras"] == ["26.1.4-1.el7"]


@pytest.mark.parametrize(
    "pin, version, matches",
    [("20.10.24", "3:20.10.24-3.el7", True), ("3:20.10.24-3.el7", "3:20.10.24-3.el7", True),
     ("20.10", "3:20.10.24-3.el7", True), ("20.1", "3:20.10.24-3.el7", False),
     ("24.0.7", "5:24.0.7-1~debian.12~bookworm", True), ("20.10.24", "20.10.24+dfsg1-1+b3", True),
     ("20.10.2", "20.10.24+dfsg1-1+b3", False)],
)
def test_version_matches(pin, version, matches):
    assert packages.version_matches(pin, version) is matches


def test_resolve_pin_and_error_names_what_exists():
    available = packages.parse_yum_list(fixture("yum-list-docker-ce-el7"))
    assert packages.resolve_pin("docker-ce", "20.10", available) == "3:20.10.24-3.el7"
    with pytest.raises(HostprepError, match=r"docker-ce version 99\.0 is not available .*3:26\.1\.4-1\.el7"):
        packages.resolve_pin("docker-ce", "99.0", available)


def test_package_spec():
    assert packages.package_spec("apt", "docker-ce", "5:24.0.7-1~debian.12~bookworm") == \
        "docker-ce=5:24.0.7-1~debian.12~bookworm"
    assert packages.package_spec("yum", "docker-ce", "3:20.10.24-3.el7") == "docker-ce-20.10.24-3.el7"
    assert packages.package_spec("dnf", "lvm2", None) == "lvm2"


def _fixed_runner(outputs):
    def run(argv):
        return outputs[argv[0]]
    return run


def test_decide_installs_missing_and_pinned_and_removes_conflicts():
    run = _fixed_runner({
        "rpm": (1, fixture("rpm-q-el7"), ""),
        "yum": (0, fixture("yum-list-docker-ce-el7"), ""),
    })
    decision = packages.decide(run, "yum", ["yum-utils", "lvm2", "docker-ce"], {"docker-ce": "20.10.24"},
                               ["iptables-services", "podman-docker"])
    assert decision["to_install"] == ["docker-ce-20.10.24-3.el7"]
    assert decision["to_remove"] == ["iptables-services"]
    assert decision["resolved"] == {"docker-ce": "3:20.10.24-3.el7"}
    assert decision["installed"]["docker-ce"] is None


def test_decide_satisfied_pin_asks_no_repository():
    run = _fixed_runner({"dpkg-query": (0, fixture("dpkg-query-debian12"), "")})
    decision = packages.decide(run, "apt", ["docker.io"], {"docker.io": "20.10.24"}, ["docker-ce"])
    assert decision == {"installed": {"docker.io": "20.10.24+dfsg1-1+b3", "docker-ce": None},
                        "resolved": {"docker.io": "20.10.24+dfsg1-1+b3"}, "to_install": [], "to_remove": []}


def test_engine_summary_from_real_output():
    version = json.loads(fixture("docker-version-debian12.json"))
    info = json.loads(fixture("docker-info-debian12.json"))
    summary = engine.summarize(version, info)
    assert summary["server_version"] == "20.10.24+dfsg1"
    assert summary["api_version"] == "1.41"
    assert summary["storage_driver"] == "overlay2"
    assert summary["cgroup_version"] == "1"
    assert summary["warnings"] == []


def test_engine_not_answering():
    def run(argv):
        return 1, '{"Client":{"Version":"20.10.24"},"Server":null}', "Cannot connect to the Docker daemon"
    with pytest.raises(HostprepError, match="does not answer: Cannot connect"):
        engine.read_engine(run)


def test_engine_client_missing():
    with pytest.raises(HostprepError, match="not installed"):
        engine.read_engine(lambda argv: (127, "", "not found"))
