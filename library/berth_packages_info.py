#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r"""
---
module: berth_packages_info
short_description: Decide which packages must be installed or removed, in one cheap query
description:
  - Asks the package database (C(dpkg-query) or C(rpm)) once for the versions of all named
    packages and returns what a package-manager task would have to install or remove. A play
    calls the package manager only when RV(to_install) or RV(to_remove) is not empty, which
    keeps a no-op run free of package-manager start-up costs.
  - For a pinned package that is not installed at a matching version, asks the configured
    repositories which versions exist (C(apt-cache madison), C(yum/dnf --showduplicates list))
    and resolves the pin to one exact version. A pin that matches nothing fails, naming what
    is available, before anything is installed.
version_added: "0.1.0"
author: berth
options:
  package_manager:
    description: The package manager of the host (RV(berth_preflight_info.package_manager)).
    type: str
    required: true
    choices: [apt, yum, dnf]
  present:
    description: Packages that must be installed.
    type: list
    elements: str
    default: []
  pins:
    description:
      - Versions for some of O(present), each a full version or a prefix of one
        (C(20.10.24) matches C(5:20.10.24~3-0~debian-bookworm) and C(20.10.24-3.el7)).
    type: dict
    default: {}
  absent:
    description: Packages that must not be installed (conflicting engines).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
"""

EXAMPLES = r"""
- name: Decide what the engine packages need
  berth_packages_info:
    package_manager: apt
    present: [docker.io, iptables-persistent]
    pins:
      docker.io: "20.10.24"
    absent: [docker-ce, podman-docker]
  register: packages

- name: Install what is missing
  ansible.builtin.apt:
    name: "{{ packages.to_install }}"
    state: present
  when: packages.to_install | length > 0
"""

RETURN = r"""
installed:
  description: Installed version of every package named, null when not installed.
  returned: always
  type: dict
  sample: {"docker.io": "20.10.24+dfsg1-1+b3", "docker-ce": null}
resolved:
  description: The exact version each pin resolved to (pins already satisfied resolve to the installed version).
  returned: always
  type: dict
  sample: {"docker.io": "20.10.24+dfsg1-1+b3"}
to_install:
  description: Package specs for the package manager (C(name=version) for apt, C(name-version) for yum/dnf).
  returned: always
  type: list
  elements: str
  sample: ["docker.io=20.10.24+dfsg1-1+b3"]
to_remove:
  description: Packages of O(absent) that are installed.
  returned: always
  type: list
  elements: str
  sample: [podman-docker]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.berth.hostprep import packages
from ansible.module_utils.berth.hostprep.commands import module_runner
from ansible.module_utils.berth.hostprep.errors import HostprepError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            package_manager=dict(type="str", required=True, choices=["apt", "yum", "dnf"]),
            present=dict(type="list", elements="str", default=[]),
            pins=dict(type="dict", default={}),
            absent=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    unknown = sorted(set(params["pins"]) - set(params["present"]))
    if unknown:
        module.fail_json(msg="pins name packages not in present: %s" % ", ".join(unknown))
    try:
        decision = packages.decide(
            module_runner(module), params["package_manager"], params["present"],
            dict((k, str(v)) for k, v in params["pins"].items() if v not in (None, "")), params["absent"],
        )
    except HostprepError as exc:
        module.fail_json(msg="cannot decide the packages to install: %s" % exc)
    module.exit_json(changed=False, **decision)


if __name__ == "__main__":
    main()
