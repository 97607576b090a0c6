#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: berth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: berth_lab
short_description: Bring a fleet of lab hosts (systemd and sshd in containers) up or down
description:
  - Builds a Debian base image with debootstrap once, caches it outside the repository, and starts
    O(hosts) lab hosts from it on a dedicated bridge network with fixed addresses and hostnames,
    each running systemd as pid 1 and sshd, reachable with a generated SSH key.
  - With O(state=absent) removes every container, volume, network and key the lab made, and
    nothing else. The cached image stays unless O(purge_cache=true).
  - Everything is validated before anything is changed; a refused request changes nothing.
version_added: "0.1.0"
author: berth contributors
options:
  state:
    description: Whether the lab should exist.
    type: str
    choices: [present, absent]
    default: present
  name:
    description: Name of the lab; prefixes hostnames (C(NAME1), C(NAME2)), containers, the network and the key.
    type: str
    default: lab
  hosts:
    description: Number of lab hosts, 1 to 50.
    type: raw
    default: 3
  subnet:
    description: Private IPv4 network of the lab bridge; must not overlap an existing route.
    type: str
    default: 172.28.250.0/24
  engine:
    description: Engine hosting the lab hosts. Only C(docker) (a Docker Engine API socket) exists yet.
    type: str
    choices: [docker]
    default: docker
  engine_socket:
    description: Unix socket of the engine API.
    type: path
    default: /var/run/docker.sock
  suite:
    description: Debian suite of the base image.
    type: str
    default: bookworm
  mirror:
    description: Debian mirror debootstrap downloads from (also written into the hosts' apt sources).
    type: str
    default: http://deb.debian.org/debian
  cache_dir:
    description: Where the built rootfs tarball is cached between runs.
    type: path
    default: /var/cache/berth/lab
  state_dir:
    description: Where the lab's SSH key is kept, in a folder per lab.
    type: path
    default: /var/lib/berth-lab
  purge_cache:
    description: With O(state=absent), also remove the cached tarball and the engine image.
    type: bool
    default: false
  ssh_timeout:
    description: Seconds to wait for every host's sshd to answer.
    type: int
    default: 120
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Needs root. On these machines Docker cannot run C(--privileged); hosts run with all capabilities
    but CAP_SYS_RESOURCE, seccomp unconfined and the host cgroup namespace, which boots systemd.
"""

EXAMPLES = r"""
- name: Bring up three lab hosts
  berth_lab:
    hosts: 3

- name: Remove the lab and its cached image
  berth_lab:
    state: absent
    purge_cache: true
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["create network berth-lab 172.28.250.0/24 on bridge br-berth-lab", "create host lab1 at 172.28.250.11"]
hosts:
  description: The lab hosts (empty when absent).
  returned: always
  type: list
  elements: dict
  sample: [{"index": 1, "name": "lab1", "container": "berth-lab1", "address": "172.28.250.11"}]
inventory:
  description: The inventory text for the lab (empty when absent).
  returned: always
  type: str
image:
  description: The engine image reference the hosts run.
  returned: always
  type: str
  sample: berth-lab/debian:bookworm-0123456789ab
ssh_private_key:
  description: Path of the lab's private SSH key.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.berth.client.engine import EngineClient, EngineError
from ansible.module_utils.berth.lab.fleet import LabError, LabFleet, LabSpec, render_inventory


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            name=dict(type="str", default="lab"),
            hosts=dict(type="raw", default=3),
            subnet=dict(type="str", default="172.28.250.0/24"),
            engine=dict(type="str", choices=["docker"], default="docker"),
            engine_socket=dict(type="path", default="/var/run/docker.sock"),
            suite=dict(type="str", default="bookworm"),
            mirror=dict(type="str", default="http://deb.debian.org/debian"),
            cache_dir=dict(type="path", default="/var/cache/berth/lab"),
            state_dir=dict(type="path", default="/var/lib/berth-lab"),
            purge_cache=dict(type="bool", default=False),
            ssh_timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    params = module.params
    fleet = None
    try:
        spec = LabSpec(params["name"], params["hosts"], params["subnet"], suite=params["suite"],
                       mirror=params["mirror"], cache_dir=params["cache_dir"], state_dir=params["state_dir"])
        fleet = LabFleet(spec, EngineClient(params["engine_socket"]), check_mode=module.check_mode)
        if params["state"] == "present":
            hosts = fleet.present(ssh_timeout=params["ssh_timeout"])
            inventory = render_inventory(spec, hosts)
        else:
            fleet.absent(purge_cache=params["purge_cache"])
            hosts, inventory = [], ""
    except (LabError, EngineError) as exc:
        module.fail_json(msg=str(exc), actions=fleet.actions if fleet else [])
    module.exit_json(changed=bool(fleet.actions), actions=fleet.actions, hosts=hosts, inventory=inventory,
                     image=spec.image_ref, ssh_private_key=spec.key_path)


if __name__ == "__main__":
    main()
