#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r"""
---
module: berth_engine_info
short_description: Read docker version and docker info from the running engine
description:
  - Runs C(docker version) and C(docker info) with JSON output and returns both, plus a summary
    with stable keys; also sets them as the facts C(berth_docker_version), C(berth_docker_info)
    and C(berth_docker).
  - Fails, naming the host, when the docker client is missing or the engine does not answer.
version_added: "0.1.0"
author: berth
options:
  docker_cli:
    description: The docker client to run.
    type: str
    default: docker
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
"""

EXAMPLES = r"""
- name: Verify that the engine answers
  berth_engine_info:
  register: engine
"""

RETURN = r"""
summary:
  description: Server, API and client versions, storage and cgroup drivers, warnings.
  returned: success
  type: dict
  sample: {"server_version": "20.10.24+dfsg1", "api_version": "1.41", "client_version": "20.10.24+dfsg1",
           "storage_driver": "overlay2", "docker_root_dir": "/var/lib/docker", "cgroup_driver": "systemd",
           "cgroup_version": "1", "security_options": ["name=seccomp,profile=default"], "warnings": [],
           "containers_running": 0, "server_errors": []}
version:
  description: C(docker version --format '{{json .}}') as a dict.
  returned: success
  type: dict
info:
  description: C(docker info --format '{{json .}}') as a dict.
  returned: success
  type: dict
"""

import platform

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.berth.hostprep import engine
from ansible.module_utils.berth.hostprep.commands import module_runner
from ansible.module_utils.berth.hostprep.errors import HostprepError


def main():
    module = AnsibleModule(
        argument_spec=dict(docker_cli=dict(type="str", default="docker")),
        supports_check_mode=True,
    )
    run = module_runner(module)
    cli = module.params["docker_cli"]

    def run_cli(argv):
        return run([cli] + argv[1:])

    try:
        version, info = engine.read_engine(run_cli)
    except HostprepError as exc:
        module.fail_json(msg="Docker engine check failed on %s: %s" % (platform.node(), exc))
    summary = engine.summarize(version, info)
    module.exit_json(
        changed=False, summary=summary, version=version, info=info,
        ansible_facts=dict(berth_docker=summary, berth_docker_version=version, berth_docker_info=info),
    )


if __name__ == "__main__":
    main()
