#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r"""
---
module: berth_sysctl
short_description: Keep kernel parameters in one /etc/sysctl.d file and at runtime
description:
  - Writes O(settings) to one file under C(/etc/sysctl.d) atomically (the file holds exactly those
    keys) and sets each value at runtime in C(/proc/sys).
  - Loads the kernel O(modules) that provide keys (C(br_netfilter) provides
    C(net.bridge.bridge-nf-call-iptables)) and lists them in a C(/etc/modules-load.d) file so
    they are loaded at boot.
  - Where C(/proc/sys) is read-only (a container), the file is still written and each value that
    cannot be set is returned in RV(runtime_unsettable) with a warning, instead of failing.
  - A key the kernel does not have fails the task before anything changes.
version_added: "0.1.0"
author: berth
options:
  settings:
    description: Keys and values, e.g. C(net.ipv4.ip_forward=1).
    type: dict
    required: true
  path:
    description: The sysctl.d file that holds exactly O(settings).
    type: path
    default: /etc/sysctl.d/90-berth-docker.conf
  modules:
    description: Kernel modules to load now and at boot, before the runtime values are set.
    type: list
    elements: str
    default: []
  modules_load_path:
    description: The modules-load.d file listing O(modules); unused when O(modules) is empty.
    type: path
    default: /etc/modules-load.d/berth-docker.conf
  state:
    description: C(present) writes and applies; C(absent) removes the file (runtime values stay).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Predicts file, module and runtime changes without making them.
  diff_mode:
    support: full
    description: Shows the file and the runtime values before and after.
"""

EXAMPLES = r"""
- name: Let Docker forward and bridged traffic pass iptables
  berth_sysctl:
    settings:
      net.ipv4.ip_forward: 1
      net.bridge.bridge-nf-call-iptables: 1
      net.bridge.bridge-nf-call-ip6tables: 1
    modules: [br_netfilter]
    state: present
"""

RETURN = r"""
path:
  description: The sysctl.d file managed.
  returned: always
  type: str
  sample: /etc/sysctl.d/90-berth-docker.conf
runtime_values:
  description: Values found in /proc/sys before the run (null for a key missing until a module loads).
  returned: always
  type: dict
  sample: {"net.ipv4.ip_forward": "0"}
runtime_changed:
  description: Keys set (or, in check mode, to be set) at runtime, with before and after.
  returned: always
  type: dict
  sample: {"net.ipv4.ip_forward": {"before": "0", "after": "1"}}
runtime_unsettable:
  description: Keys whose runtime value could not be set, with the reason; the file still holds them.
  returned: always
  type: dict
  sample: {"net.ipv4.ip_forward": "read-only (/proc/sys/net/ipv4/ip_forward)"}
modules_loaded:
  description: Kernel modules loaded (or to be loaded in check mode).
  returned: always
  type: list
  elements: str
  sample: [br_netfilter]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.berth.hostprep.commands import module_runner
from ansible.module_utils.berth.hostprep.errors import HostprepError
from ansible.module_utils.berth.hostprep.sysctl import SysctlManager


def main():
    module = AnsibleModule(
        argument_spec=dict(
            settings=dict(type="dict", required=True),
            path=dict(type="path", default="/etc/sysctl.d/90-berth-docker.conf"),
            modules=dict(type="list", elements="str", default=[]),
            modules_load_path=dict(type="path", default="/etc/modules-load.d/berth-docker.conf"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    manager = SysctlManager(module_runner(module))
    try:
        plan = manager.plan(params["settings"], params["path"], params["modules"],
                            params["modules_load_path"], params["state"])
        unsettable = plan["runtime_unsettable"]
        if SysctlManager.changed(plan) and not module.check_mode:
            unsettable = manager.apply(plan, params["path"], params["modules_load_path"])
    except (HostprepError, IOError, OSError) as exc:
        module.fail_json(msg="cannot apply sysctl settings to %s: %s" % (params["path"], exc))
    runtime_changed = dict((k, v) for k, v in plan["runtime_changes"].items() if k not in unsettable)
    for key, reason in sorted(unsettable.items()):
        module.warn("sysctl %s is not settable at runtime here: %s; %s still holds it for the next boot"
                    % (key, reason, params["path"]))
    result = dict(
        changed=bool(plan["file_changed"] or plan["modules_to_load"] or plan["modules_file_changed"]
                     or runtime_changed),
        path=params["path"],
        runtime_values=plan["runtime_values"],
        runtime_changed=runtime_changed,
        runtime_unsettable=unsettable,
        modules_loaded=plan["modules_to_load"],
    )
    if module._diff:
        result["diff"] = [
            dict(before_header=params["path"], after_header=params["path"],
                 before=plan["file_before"] or "", after=plan["file_after"] or ""),
            dict(before_header="runtime", after_header="runtime",
                 before="".join("%s = %s\n" % (k, v["before"]) for k, v in sorted(runtime_changed.items())),
                 after="".join("%s = %s\n" % (k, v["after"]) for k, v in sorted(runtime_changed.items()))),
        ]
        if plan["modules_file_changed"]:
            result["diff"].append(dict(
                before_header=params["modules_load_path"], after_header=params["modules_load_path"],
                before=plan["modules_file_before"] or "", after=plan["modules_file_after"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
