"""The preflight probe: everything the host preparation decides on, read once.

Read-only and cheap (a few small files and two short commands), so it is the
role's fact source instead of Ansible's full fact gathering.
"""
import os
import platform
import sys

from . import cgroup, kernel, osinfo, selinux, services, storage
from .commands import find_program, read_text

SERVICE_UNITS = (
    "firewalld.service",
    "iptables.service",
    "netfilter-persistent.service",
    "docker.service",
    "containerd.service",
)
SYSCTL_KEYS = (
    "net.ipv4.ip_forward",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "fs.may_detach_mounts",
)


class HostPaths:
    """Where the probe reads; a test may point it at a prepared tree."""

    def __init__(self, root="/"):
        self.root = root

    def __call__(self, path):
        return os.path.join(self.root, path.lstrip("/"))


HOST = HostPaths()


def overlay_support(filesystems_text, modules_dep_text, modules_builtin_text):
    """"loaded" when in /proc/filesystems, "module" when the kernel can load it, else "absent"."""
    if "overlay" in storage.parse_proc_filesystems(filesystems_text or ""):
        return "loaded"
    for text in (modules_dep_text or "", modules_builtin_text or ""):
        for line in text.splitlines():
            if line.split(":", 1)[0].endswith("/overlay.ko") or "/overlay.ko." in line.split(":", 1)[0]:
                return "module"
    return "absent"


def probe_data_root(run, data_root, path=HOST):
    probed = storage.nearest_existing(data_root, exists=lambda p: os.path.exists(path(p)))
    mounts = storage.parse_mountinfo(read_text(path("/proc/self/mountinfo"), ""))
    mount = storage.mount_for(probed, mounts) or {}
    fstype = mount.get("fstype")
    ftype = None
    if fstype == "xfs":
        rc, out, _ = run(["xfs_info", mount["mount_point"]])
        if rc == 0:
            ftype = storage.parse_xfs_ftype(out)
    return {
        "path": data_root,
        "probed_path": probed,
        "mount_point": mount.get("mount_point"),
        "fstype": fstype,
        "source": mount.get("source"),
        "xfs_ftype": ftype,
        "d_type": storage.d_type_supported(fstype, ftype),
    }


def probe_selinux(configfile, path=HOST):
    text = read_text(path(configfile))
    config = selinux.parse_selinux_config(text) if text is not None else {}
    fs = selinux.find_selinuxfs([path(p) for p in selinux.SELINUXFS_MOUNTS])
    return {
        "runtime": selinux.read_runtime_mode(fs),
        "config": config.get("SELINUX"),
        "config_policy": config.get("SELINUXTYPE"),
        "configfile_present": text is not None,
    }


def read_sysctls(path=HOST):
    values = {}
    for key in SYSCTL_KEYS:
        text = read_text(path("/proc/sys/" + key.replace(".", "/")))
        values[key] = " ".join(text.split()) if text is not None else None
    return values


def gather(run, data_root="/var/lib/docker", kernel_minimum="3.10",
           selinux_config="/etc/selinux/config", path=HOST):
    """The preflight facts as one dict with stable keys."""
    os_release = osinfo.parse_os_release(
        read_text(path("/etc/os-release")) or read_text(path("/usr/lib/os-release")) or ""
    )
    distribution = osinfo.distribution_summary(os_release)
    release = platform.release()
    kernel_facts = {
        "release": release,
        "minimum": str(kernel_minimum),
        "meets_minimum": kernel.kernel_meets_minimum(release, kernel_minimum),
    }
    rc, out, _ = run(services.systemctl_show_argv(SERVICE_UNITS))
    unit_states = services.parse_systemctl_show(out if rc == 0 else "", SERVICE_UNITS)
    iptables_path = find_program("iptables")
    iptables = {"path": iptables_path, "version": None, "backend": None}
    if iptables_path:
        rc, out, err = run([iptables_path, "--version"])
        iptables.update(services.parse_iptables_version(out + err))
    firewalld = unit_states["firewalld.service"]
    package_tools = [name for name in osinfo.PACKAGE_MANAGERS if find_program(name)]
    return {
        "hostname": platform.node(),
        "distribution": distribution,
        "os_family": distribution["family"],
        "kernel": kernel_facts,
        "cgroup_version": cgroup.cgroup_version(read_text(path("/proc/self/mounts"), "")),
        "overlay": overlay_support(
            read_text(path("/proc/filesystems")),
            read_text(path("/lib/modules/%s/modules.dep" % release)),
            read_text(path("/lib/modules/%s/modules.builtin" % release)),
        ),
        "data_root": probe_data_root(run, data_root, path),
        "selinux": probe_selinux(selinux_config, path),
        "firewalld": {
            "installed": firewalld["installed"],
            "active": firewalld["active"],
            "enabled": firewalld["enabled"],
        },
        "iptables": iptables,
        "sysctl": read_sysctls(path),
        "python": {
            "version": "%d.%d.%d" % sys.version_info[:3],
            "executable": sys.executable,
        },
        "package_manager": osinfo.select_package_manager(package_tools),
        "init_system": osinfo.init_system(
            read_text(path("/proc/1/comm")), os.path.isdir(path("/run/systemd/system"))
        ),
        "services": unit_states,
    }
