#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r"""
---
module: berth_selinux
short_description: Set the SELinux mode in /etc/selinux/config and at runtime
description:
  - Edits C(SELINUX=) (and C(SELINUXTYPE=) when O(policy) is given) in the SELinux config file
    atomically, keeping its comments, and switches the runtime mode between enforcing and
    permissive where SELinux is enabled (what C(setenforce) does).
  - Leaving or entering C(disabled) needs a reboot; the module then sets the closest runtime mode
    and returns RV(reboot_required=true), on this run and on every later run until the host reboots.
  - On a host whose kernel runs without SELinux and that has no config file, O(state=disabled) is
    already true and changes nothing; C(enforcing) or C(permissive) fail there, before any change,
    because the policy is not installed.
version_added: "0.1.0"
author: berth
options:
  state:
    description: The SELinux mode wanted.
    type: str
    required: true
    choices: [enforcing, permissive, disabled]
  policy:
    description:
      - The policy type written as C(SELINUXTYPE=). Left as it is when not given; ignored with
        O(state=disabled).
    type: str
  configfile:
    description: The SELinux config file.
    type: path
    default: /etc/selinux/config
attributes:
  check_mode:
    support: full
    description: Predicts the same change, diff and RV(reboot_required) a real run would return.
  diff_mode:
    support: full
    description: Shows the config file before and after.
"""

EXAMPLES = r"""
- name: Disable SELinux (the CentOS 7 runbook)
  berth_selinux:
    state: disabled
  register: selinux

- name: Keep SELinux enforcing with the targeted policy
  berth_selinux:
    state: enforcing
    policy: targeted
"""

RETURN = r"""
state:
  description: The mode asked for.
  returned: always
  type: str
  sample: disabled
config_mode:
  description: C(SELINUX=) in the config file after the run; null when there is no config file.
  returned: always
  type: str
  sample: disabled
runtime_mode_before:
  description: The runtime mode found (C(disabled) when the kernel runs without SELinux).
  returned: always
  type: str
  sample: enforcing
runtime_mode:
  description: The runtime mode after the run.
  returned: always
  type: str
  sample: permissive
reboot_required:
  description: True while the runtime mode differs from the mode asked for in a way only a reboot can fix.
  returned: always
  type: bool
  sample: true
selinux_present:
  description: Whether the host has SELinux at all (a config file or a running SELinux kernel).
  returned: always
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.berth.hostprep.errors import HostprepError
from ansible.module_utils.berth.hostprep.selinux import SelinuxManager, find_selinuxfs


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", required=True, choices=["enforcing", "permissive", "disabled"]),
            policy=dict(type="str"),
            configfile=dict(type="path", default="/etc/selinux/config"),
        ),
        supports_check_mode=True,
    )
    manager = SelinuxManager(module.params["configfile"], find_selinuxfs())
    try:
        plan = manager.plan(module.params["state"], module.params["policy"])
        if not module.check_mode:
            manager.apply(plan)
    except (HostprepError, IOError, OSError) as exc:
        module.fail_json(msg="cannot set SELinux to %s: %s" % (module.params["state"], exc))
    changed = plan["config_changed"] or plan["runtime_changed"]
    result = dict(
        changed=changed,
        state=plan["state"],
        config_mode=module.params["state"] if plan["config_after"] is not None else None,
        runtime_mode_before=plan["runtime_before"],
        runtime_mode=plan["runtime_after"],
        reboot_required=plan["reboot_required"],
        selinux_present=plan["selinux_present"],
    )
    if module._diff:
        result["diff"] = [dict(
            before_header=module.params["configfile"], after_header=module.params["configfile"],
            before=plan["config_before"] or "", after=plan["config_after"] or "",
        ), dict(
            before_header="runtime mode", after_header="runtime mode",
            before=plan["runtime_before"] + "\n", after=plan["runtime_after"] + "\n",
        )]
    if plan["reboot_required"]:
        module.warn("SELinux is %s at runtime but %s is asked for: reboot to finish" % (
            plan["runtime_after"], plan["state"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
