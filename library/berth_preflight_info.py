#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r"""
---
module: berth_preflight_info
short_description: Read what a Docker host preparation decides on, without changing anything
description:
  - Reads the kernel release and checks it against a minimum, the cgroup version, overlay
    support, C(d_type) support of the filesystem under the docker data root (overlay2 on xfs
    with C(ftype=0) is a known trap), SELinux mode at runtime and in its config file,
    firewalld and other service states, iptables, the Docker-related sysctls, the Python
    version, the package manager and the init system.
  - Cheap enough to replace Ansible's full fact gathering for host preparation; the result
    is also set as the fact C(berth_preflight).
version_added: "0.1.0"
author: berth
options:
  data_root:
    description: The docker data root whose filesystem is probed (its closest existing parent if absent).
    type: path
    default: /var/lib/docker
  kernel_minimum:
    description: The oldest kernel the host may run, as C(MAJOR.MINOR[.PATCH]); see RV(kernel.meets_minimum).
    type: str
    default: "3.10"
  selinux_config:
    description: The SELinux config file to read.
    type: path
    default: /etc/selinux/config
  security_findings:
    description:
      - Also return RV(berth_findings), the security findings a drift run reports (the same as
        M(berth_security_info) returns), so that a drift check needs no extra module call.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
notes:
  - The module never fails on a kernel below the minimum; it reports it, so the play can fail
    with a message naming the host.
"""

EXAMPLES = r"""
- name: Read the preflight facts
  berth_preflight_info:
    data_root: /var/lib/docker
    kernel_minimum: "3.10"
  register: preflight

- name: Fail on an old kernel
  ansible.builtin.assert:
    that: preflight.kernel.meets_minimum
    fail_msg: "{{ inventory_hostname }} runs kernel {{ preflight.kernel.release }}, below 3.10"
"""

RETURN = r"""
hostname:
  description: The kernel's host name.
  returned: always
  type: str
  sample: node1
distribution:
  description: From os-release.
  returned: always
  type: dict
  sample: {"id": "centos", "version": "7", "major_version": "7", "family": "RedHat",
           "pretty_name": "CentOS Linux 7 (Core)", "codename": ""}
os_family:
  description: C(RedHat), C(Debian), or null when unknown.
  returned: always
  type: str
  sample: RedHat
kernel:
  description: Release, the minimum asked for, and whether the release meets it.
  returned: always
  type: dict
  sample: {"release": "3.10.0-1160.el7.x86_64", "minimum": "3.10", "meets_minimum": true}
cgroup_version:
  description: 2 when /sys/fs/cgroup is cgroup2, 1 with v1 hierarchies, null when none is mounted.
  returned: always
  type: int
  sample: 1
overlay:
  description: C(loaded) (in /proc/filesystems), C(module) (loadable), or C(absent).
  returned: always
  type: str
  sample: loaded
data_root:
  description: The filesystem under the data root and whether it fills in d_type (null when unknown).
  returned: always
  type: dict
  sample: {"path": "/var/lib/docker", "probed_path": "/var/lib", "mount_point": "/",
           "fstype": "xfs", "source": "/dev/sda1", "xfs_ftype": 0, "d_type": false}
selinux:
  description: Runtime mode (C(disabled) when the kernel has no SELinux) and the config file's values.
  returned: always
  type: dict
  sample: {"runtime": "enforcing", "config": "enforcing", "config_policy": "targeted",
           "configfile_present": true}
firewalld:
  description: Whether the firewalld unit exists, runs, and is enabled.
  returned: always
  type: dict
  sample: {"installed": true, "active": true, "enabled": true}
iptables:
  description: The iptables binary, its version and backend (C(legacy) or C(nf_tables)).
  returned: always
  type: dict
  sample: {"path": "/usr/sbin/iptables", "version": "1.4.21", "backend": "legacy"}
sysctl:
  description: Current values of the Docker-related sysctls; null for a key the kernel lacks.
  returned: always
  type: dict
  sample: {"net.ipv4.ip_forward": "0", "net.bridge.bridge-nf-call-iptables": null,
           "net.bridge.bridge-nf-call-ip6tables": null, "fs.may_detach_mounts": "0"}
berth_findings:
  description: The security findings (see M(berth_security_info)); only with O(security_findings).
  returned: when O(security_findings) is true
  type: list
  elements: dict
  sample: [{"finding": "firewall_disabled", "detail": "firewalld is not running"}]
python:
  description: The Python running the module.
  returned: always
  type: dict
  sample: {"version": "3.6.8", "executable": "/usr/bin/python3"}
package_manager:
  description: C(dnf), C(yum), C(apt), or null.
  returned: always
  type: str
  sample: yum
init_system:
  description: C(systemd) when booted with systemd, else the name of pid 1.
  returned: always
  type: str
  sample: systemd
services:
  description: Per unit (firewalld, iptables, netfilter-persistent, docker, containerd) whether it is
    installed, active and enabled.
  returned: always
  type: dict
  sample: {"docker.service": {"installed": true, "active": true, "enabled": true,
                              "active_state": "active", "unit_file_state": "enabled"}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.berth.drift import security
from ansible.module_utils.berth.hostprep import preflight
from ansible.module_utils.berth.hostprep.commands import module_runner
from ansible.module_utils.berth.hostprep.kernel import parse_minimum


def main():
    module = AnsibleModule(
        argument_spec=dict(
            data_root=dict(type="path", default="/var/lib/docker"),
            kernel_minimum=dict(type="str", default="3.10"),
            selinux_config=dict(type="path", default="/etc/selinux/config"),
            security_findings=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    try:
        parse_minimum(module.params["kernel_minimum"])
    except ValueError as exc:
        module.fail_json(msg="invalid kernel_minimum: %s" % exc)
    run = module_runner(module)
    facts = preflight.gather(
        run,
        data_root=module.params["data_root"],
        kernel_minimum=module.params["kernel_minimum"],
        selinux_config=module.params["selinux_config"],
    )
    extra = {}
    if module.params["security_findings"]:
        extra["berth_findings"] = security.gather(run, selinux_config=module.params["selinux_config"],
                                                  firewalld_active=facts["firewalld"]["active"])
    module.exit_json(changed=False, ansible_facts={"berth_preflight": facts}, **dict(facts, **extra))


if __name__ == "__main__":
    main()
