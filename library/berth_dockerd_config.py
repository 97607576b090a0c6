#!/usr/bin/python
# -*- coding: utf-8 -*-

DOCUMENTATION = r"""
---
module: berth_dockerd_config
short_description: Keep dockerd's daemon.json and its systemd drop-in as one checked source of truth
description:
  - Manages C(/etc/docker/daemon.json) and one drop-in for C(docker.service). The drop-in resets
    C(ExecStart=) and starts the packaged C(dockerd) binary with the unit's other flags but without
    C(-H) and C($VARIABLE) options, so C(hosts) lives in daemon.json (the packaged C(-H fd://) plus
    C(hosts) in daemon.json stops dockerd from starting, even with identical values).
  - Proxy settings go into the drop-in's environment, and into daemon.json C(proxies) on Engine
    23.0 or newer. Proxy passwords are masked in every value, diff and message the module returns.
  - Every setting is checked before anything is written, and the task fails naming the setting and
    the fix - C(bip) together with C(bridge); C(bip) given as the network address; malformed CIDRs,
    mirror URLs and registries; a TCP listener without TLS unless O(tcp_insecure_ack); TLS files
    missing, unreadable, or a key others can read; a key the installed engine does not know; a
    setting given both as a unit flag and in daemon.json. On Engine 23.0 or newer the candidate file
    is also run through C(dockerd --validate).
  - Keys of an existing daemon.json that no option owns are kept unless O(exclusive).
  - It never restarts dockerd. It keeps the previous files and records whether the change needs a
    restart or only a reload (SIGHUP); M(berth_dockerd_apply) then restarts or reloads once, with
    a health gate and rollback. A change written but never applied is reported again by the next
    run.
version_added: "0.1.0"
author: berth
options:
  unix_socket:
    description: The unix socket dockerd listens on (C(hosts) gets C(unix://PATH)); empty for none.
    type: str
    default: /var/run/docker.sock
  unix_socket_group:
    description: The group that owns the unix socket (daemon.json C(group)); empty keeps dockerd's C(docker).
    type: str
  unix_socket_mode:
    description: Octal mode set on the unix socket after each start (dockerd creates it 0660); empty leaves it.
    type: str
  tcp:
    description: A TCP listener C(HOST:PORT) (or C(tcp://HOST:PORT)), e.g. C(0.0.0.0:2376); needs the TLS files
      unless O(tcp_insecure_ack).
    type: str
  tcp_insecure_ack:
    description: Accept a TCP listener without TLS. Anyone who reaches the port is root on the host; the module
      warns on every run.
    type: bool
    default: false
  tls_ca_cert:
    description: The CA certificate clients must be signed by (daemon.json C(tlscacert)); sets C(tlsverify).
    type: path
  tls_cert:
    description: dockerd's server certificate (C(tlscert)).
    type: path
  tls_key:
    description: dockerd's private key (C(tlskey)); refused when group or others have any access to it.
    type: path
  check_tls_files:
    description: Check the TLS files before naming them. Only for check mode, when an earlier task of the same
      run would have copied them there.
    type: bool
    default: true
  registry_mirrors:
    description: Registry mirror URLs, C(http(s)://HOST[:PORT]) without a path.
    type: list
    elements: str
    default: []
  insecure_registries:
    description: Registries reached without TLS verification, as C(HOST[:PORT]) or a CIDR.
    type: list
    elements: str
    default: []
  selinux_enabled:
    description: dockerd's C(selinux-enabled); unset leaves the key out.
    type: bool
  bip:
    description: The bridge's own address with prefix, e.g. C(172.17.0.1/16) (not the network C(172.17.0.0/16)).
      Mutually exclusive with O(bridge).
    type: str
  bridge:
    description: An existing bridge for containers (dockerd C(-b)). Mutually exclusive with O(bip).
    type: str
  default_address_pools:
    description: "Pools user-defined networks are carved from, each C({base: CIDR, size: PREFIX})."
    type: list
    elements: dict
    default: []
  log_driver:
    description: The default log driver, e.g. C(json-file), C(journald), C(local).
    type: str
  log_opts:
    description: "Options of the log driver, e.g. C({max-size: 10m, max-file: 3}); values are written as
      strings, as dockerd requires."
    type: dict
    default: {}
  storage_driver:
    description: The storage driver, e.g. C(overlay2).
    type: str
  data_root:
    description: The root of dockerd's state, e.g. C(/var/lib/docker).
    type: path
  live_restore:
    description: Keep containers running while dockerd restarts; unset leaves the key out.
    type: bool
  http_proxy:
    description: Proxy for dockerd's HTTP requests (pulls), C(http://[USER:PASSWORD@]HOST:PORT).
    type: str
  https_proxy:
    description: Proxy for dockerd's HTTPS requests.
    type: str
  no_proxy:
    description: Comma-separated hosts and domains reached without the proxy.
    type: str
  options:
    description: Any other daemon.json keys, written as given after a check against the installed engine's
      key table. A key one of the options above owns is refused here.
    type: dict
    default: {}
  exclusive:
    description: Drop keys of an existing daemon.json that no option owns (and replace a file that is not JSON).
    type: bool
    default: false
  path:
    description: The daemon.json to manage; another path adds C(--config-file) to the drop-in.
    type: path
    default: /etc/docker/daemon.json
  drop_in:
    description: berth's drop-in for docker.service.
    type: path
    default: /etc/systemd/system/docker.service.d/berth.conf
  state_dir:
    description: Where the previous files are kept until the change is applied.
    type: path
    default: /var/lib/berth/dockerd
  engine_version:
    description: The engine version to check keys against; empty reads C(dockerd --version).
    type: str
attributes:
  check_mode:
    support: full
    description: Runs every check and predicts the key changes and the action; writes nothing.
  diff_mode:
    support: full
    description: The changed daemon.json keys only (before and after), and the drop-in text when it changes.
seealso:
  - module: berth_dockerd_apply
"""

EXAMPLES = r"""
- name: Configure dockerd with a mirror, a bridge address and TLS on TCP
  berth_dockerd_config:
    tcp: 0.0.0.0:2376
    tls_ca_cert: /etc/docker/tls/ca.pem
    tls_cert: /etc/docker/tls/server.pem
    tls_key: /etc/docker/tls/server-key.pem
    registry_mirrors: [https://mirror.example:5000]
    insecure_registries: [registry.lan:5000]
    bip: 172.31.0.1/16
    http_proxy: http://proxy.lan:3128
    live_restore: true
  register: dockerd_config
  notify: Apply the docker daemon configuration
"""

RETURN = r"""
changes:
  description: Each daemon.json key added, removed or changed, with proxy passwords masked.
  returned: always
  type: list
  elements: dict
  sample: [{"key": "registry-mirrors", "before": null, "after": ["https://mirror.example:5000/"]}]
drop_in_changed:
  description: Whether the drop-in's text changes.
  returned: always
  type: bool
restart_required:
  description: The change needs a dockerd restart (a key SIGHUP does not reload, or the drop-in).
  returned: always
  type: bool
reload_sufficient:
  description: Only keys dockerd reloads on SIGHUP change; running containers keep running.
  returned: always
  type: bool
action:
  description: C(restart), C(reload) or C(none); what M(berth_dockerd_apply) with C(action=auto) will do.
  returned: always
  type: str
pending_from_earlier_run:
  description: Files written by an earlier run were never applied; this run reports them again.
  returned: always
  type: bool
engine_version:
  description: The engine version the keys were checked against.
  returned: always
  type: str
  sample: "20.10.24"
validated_by_dockerd:
  description: What C(dockerd --validate) said about the candidate (Engine 23.0 or newer), else null.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.berth.hostprep.commands import module_runner
from ansible.module_utils.berth.hostprep.dockerd.errors import ConflictingDropIns, DockerdConfigError
from ansible.module_utils.berth.hostprep.dockerd.manager import converge
from ansible.module_utils.berth.hostprep.dockerd.validate import mask_url, url_secrets
from ansible.module_utils.berth.hostprep.errors import HostprepError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            unix_socket=dict(type="str", default="/var/run/docker.sock"),
            unix_socket_group=dict(type="str"),
            unix_socket_mode=dict(type="str"),
            tcp=dict(type="str"),
            tcp_insecure_ack=dict(type="bool", default=False),
            tls_ca_cert=dict(type="path"),
            tls_cert=dict(type="path"),
            tls_key=dict(type="path", no_log=False),
            check_tls_files=dict(type="bool", default=True),
            registry_mirrors=dict(type="list", elements="str", default=[]),
            insecure_registries=dict(type="list", elements="str", default=[]),
            selinux_enabled=dict(type="bool"),
            bip=dict(type="str"),
            bridge=dict(type="str"),
            default_address_pools=dict(type="list", elements="dict", default=[]),
            log_driver=dict(type="str"),
            log_opts=dict(type="dict", default={}),
            storage_driver=dict(type="str"),
            data_root=dict(type="path"),
            live_restore=dict(type="bool"),
            http_proxy=dict(type="str"),
            https_proxy=dict(type="str"),
            no_proxy=dict(type="str"),
            options=dict(type="dict", default={}),
            exclusive=dict(type="bool", default=False),
            path=dict(type="path", default="/etc/docker/daemon.json"),
            drop_in=dict(type="path", default="/etc/systemd/system/docker.service.d/berth.conf"),
            state_dir=dict(type="path", default="/var/lib/berth/dockerd"),
            engine_version=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    for name in ("http_proxy", "https_proxy"):
        module.no_log_values.update(url_secrets(module.params[name] or ""))
    try:
        result = converge(module.params, module_runner(module), module.check_mode)
    except ConflictingDropIns as exc:
        # berth_drift: the drift report shows these files as drift instead of a failed host.
        module.fail_json(msg="Refused to change the docker daemon configuration, nothing was written: %s"
                         % mask_url(str(exc)), berth_drift=exc.drift)
    except (DockerdConfigError, HostprepError) as exc:
        module.fail_json(msg="Refused to change the docker daemon configuration, nothing was written: %s"
                         % mask_url(str(exc)))
    except (IOError, OSError) as exc:
        module.fail_json(msg="Writing the docker daemon configuration failed (%s); the live files are as before "
                         "or fully replaced, never half-written" % mask_url(str(exc)))
    for warning in result.pop("warnings"):
        module.warn(warning)
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
