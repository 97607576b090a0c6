import platform

from berth.hostprep import preflight

from .helpers import fixture


def el7_tree(root):
    """The files preflight reads, as a CentOS 7 host with an xfs root and SELinux enforcing has them."""
    files = {
        "etc/os-release": fixture("os-release-centos7"),
        "etc/selinux/config": fixture("selinux-config-el7"),
        "proc/self/mountinfo": fixture("mountinfo-el7"),
        "proc/self/mounts": fixture("mounts-el7"),
        "proc/filesystems": fixture("proc-filesystems-el7"),
        "proc/sys/net/ipv4/ip_forward": "0\n",
        "proc/sys/fs/may_detach_mounts": "0\n",
        "proc/1/comm": "systemd\n",
        "sys/fs/selinux/enforce": "1",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "run/systemd/system").mkdir(parents=True)
    (root / "var/lib").mkdir(parents=True)


def runner(calls):
    def run(argv):
        calls.append(argv[0])
        if argv[0] == "systemctl":
            return 0, fixture("systemctl-show-el7"), ""
        if argv == ["xfs_info", "/"]:
            return 0, fixture("xfs-info-ftype0"), ""
        return 127, "", "not found"
    return run


def test_gather_on_an_el7_tree(tmp_path):
    el7_tree(tmp_path)
    calls = []
    facts = preflight.gather(runner(calls), path=preflight.HostPaths(str(tmp_path)))
    assert facts["distribution"] == {"id": "centos", "version": "7", "major_version": "7", "family": "RedHat",
                                     "pretty_name": "CentOS Linux 7 (Core)", "codename": ""}
    assert facts["os_family"] == "RedHat"
    assert facts["kernel"] == {"release": platform.release(), "minimum": "3.10", "meets_minimum": True}
    assert facts["cgroup_version"] == 1
    assert facts["overlay"] == "absent"  # not loaded and no modules.dep in the tree
    # /var/lib/docker is absent: its closest existing parent is probed
    assert facts["data_root"] == {"path": "/var/lib/docker", "probed_path": "/var/lib", "mount_point": "/",
                                  "fstype": "xfs", "source": "/dev/mapper/centos-root", "xfs_ftype": 0,
                                  "d_type": False}
    assert facts["selinux"] == {"runtime": "enforcing", "config": "enforcing", "config_policy": "targeted",
                                "configfile_present": True}
    assert facts["firewalld"] == {"installed": True, "active": True, "enabled": True}
    assert facts["sysctl"] == {"net.ipv4.ip_forward": "0", "net.bridge.bridge-nf-call-iptables": None,
                               "net.bridge.bridge-nf-call-ip6tables": None, "fs.may_detach_mounts": "0"}
    assert facts["init_system"] == "systemd"
    assert facts["services"]["docker.service"]["unit_file_state"] == "disabled"
    assert calls[0] == "systemctl"
    assert calls.count("xfs_info") == 1


def test_gather_on_an_empty_tree_reports_unknowns(tmp_path):
    facts = preflight.gather(lambda argv: (1, "", ""), path=preflight.HostPaths(str(tmp_path)))
    assert facts["os_family"] is None
    assert facts["cgroup_version"] is None
    assert facts["selinux"]["runtime"] == "disabled"
    assert facts["selinux"]["configfile_present"] is False
    assert facts["init_system"] == "unknown"
    assert facts["services"]["firewalld.service"]["installed"] is False
