#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: berth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: berth_security_info
short_description: Report a Docker host's security findings (what the runbook's defaults leave open)
description:
  - Reads, and never changes, the settings that are not drift when the inventory asks for them
    but must stay visible on every drift run, and returns them as RV(berth_findings).
  - C(tcp_without_tls) a TCP socket without TLS verification (daemon.json C(hosts) or C(-H) flags);
    C(insecure_registries) registries pulled from without TLS verification;
    C(selinux_disabled) SELinux disabled or not in the kernel; C(firewall_disabled) firewalld not
    running; C(docker_socket_mode) the docker socket wider than 0660.
version_added: "0.1.0"
author: berth contributors
options:
  daemon_json:
    description: Path of the daemon configuration file.
    type: path
    default: /etc/docker/daemon.json
  socket_path:
    description: Path of the docker unix socket.
    type: path
    default: /var/run/docker.sock
  selinux_config:
    description: Path of the SELinux configuration file.
    type: path
    default: /etc/selinux/config
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Read the security findings
  berth_security_info:
  register: findings
"""

RETURN = r"""
berth_findings:
  description: One entry per finding, in a stable order.
  returned: always
  type: list
  elements: dict
  sample: [{"finding": "firewall_disabled", "detail": "firewalld is not running"}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.berth.drift.security import gather
from ansible.module_utils.berth.hostprep.commands import module_runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            daemon_json=dict(type="path", default="/etc/docker/daemon.json"),
            socket_path=dict(type="path", default="/var/run/docker.sock"),
            selinux_config=dict(type="path", default="/etc/selinux/config"),
        ),
        supports_check_mode=True,
    )
    found = gather(module_runner(module), daemon_json=module.params["daemon_json"],
                   socket_path=module.params["socket_path"], selinux_config=module.params["selinux_config"])
    module.exit_json(changed=False, berth_findings=found)


if __name__ == "__main__":
    main()
