#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r"""
---
module: berth_dockerd_apply
short_description: Restart or reload dockerd on the configuration berth_dockerd_config wrote, or roll it back
description:
  - Applies the change M(berth_dockerd_config) recorded. C(restart) restarts docker.service and waits
    until a new dockerd process is active and answers on its socket; C(reload) sends SIGHUP and waits
    until C(/info) shows the reloaded settings (registry mirrors, live-restore, debug).
  - When dockerd fails or does not answer within O(timeout), the previous daemon.json and drop-in are
    put back, the unit's failed state is reset, docker is started (or reloaded) again on them, and the
    task fails with the error dockerd wrote to the journal.
  - Meant for one handler, so a play restarts docker at most once however many settings changed.
version_added: "0.1.0"
author: berth
options:
  action:
    description: C(auto) does what the recorded change needs (restart, reload, or nothing);
      C(restart) and C(reload) force one; C(none) does nothing (what a handler passes in check mode when
      nothing was written).
    type: str
    choices: [auto, restart, reload, none]
    default: auto
  timeout:
    description: Seconds dockerd has to become active and answer after a restart.
    type: int
    default: 60
  path:
    description: The daemon.json berth_dockerd_config manages.
    type: path
    default: /etc/docker/daemon.json
  state_dir:
    description: Where berth_dockerd_config keeps the previous files.
    type: path
    default: /var/lib/berth/dockerd
attributes:
  check_mode:
    support: full
    description: Reports the action it would take and does nothing.
  diff_mode:
    support: none
    description: Changes no file unless rolling back.
seealso:
  - module: berth_dockerd_config
"""

EXAMPLES = r"""
- name: Apply the docker daemon configuration
  berth_dockerd_apply:
    action: auto
    timeout: 60
"""

RETURN = r"""
action:
  description: What was done, C(restart), C(reload) or C(none).
  returned: always
  type: str
elapsed:
  description: Seconds from the restart or reload until dockerd answered with the new configuration.
  returned: always
  type: float
rolled_back:
  description: The previous configuration was restored and docker runs on it again (the task fails).
  returned: failure
  type: bool
journal:
  description: The lines in which dockerd said why it failed.
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.berth.hostprep.commands import module_runner
from ansible.module_utils.berth.hostprep.dockerd import state
from ansible.module_utils.berth.hostprep.dockerd.apply import apply
from ansible.module_utils.berth.hostprep.dockerd.errors import DockerdApplyError
from ansible.module_utils.berth.hostprep.dockerd.validate import mask_url


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", choices=["auto", "restart", "reload", "none"], default="auto"),
            timeout=dict(type="int", default=60),
            path=dict(type="path", default="/etc/docker/daemon.json"),
            state_dir=dict(type="path", default="/var/lib/berth/dockerd"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if module.check_mode:
        pending = state.read_pending(params["state_dir"])
        action = params["action"]
        if action == "auto":
            action = pending.get("action", "none") if pending else "none"
        module.exit_json(changed=action != "none", action=action, elapsed=0.0)
    try:
        result = apply(params["action"], params["path"], params["state_dir"], module_runner(module),
                       timeout=params["timeout"])
    except DockerdApplyError as exc:
        module.fail_json(msg=mask_url(str(exc)), rolled_back=exc.rolled_back, journal=mask_url(exc.journal))
    module.exit_json(changed=result["action"] != "none", **result)


if __name__ == "__main__":
    main()
