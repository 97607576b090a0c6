"""The desired daemon.json and drop-in, built from the module's settings and checked before any write.

``build_plan`` is pure apart from reading the TLS files it is asked to name: it
takes the current daemon.json text, the packaged unit's ExecStart and the
engine version, and returns the candidate files, the key-level changes and
whether they need a restart or a reload only.
"""
import json

from . import validate
from .errors import DockerdConfigError
from .keys import RELOADABLE_KEYS, key_problem
from .systemd import daemon_argv, flag_keys, render_drop_in
from .tls import check_tls_file

# Module settings and the daemon.json key each one owns.
SETTING_KEYS = (
    ("registry_mirrors", "registry-mirrors"),
    ("insecure_registries", "insecure-registries"),
    ("selinux_enabled", "selinux-enabled"),
    ("bip", "bip"),
    ("bridge", "bridge"),
    ("default_address_pools", "default-address-pools"),
    ("log_driver", "log-driver"),
    ("log_opts", "log-opts"),
    ("storage_driver", "storage-driver"),
    ("data_root", "data-root"),
    ("live_restore", "live-restore"),
    ("unix_socket_group", "group"),
)
# Keys berth writes for hosts, TLS and proxies.
DERIVED_KEYS = ("hosts", "tls", "tlsverify", "tlscacert", "tlscert", "tlskey", "proxies")
OWNED_KEYS = frozenset([key for _, key in SETTING_KEYS] + list(DERIVED_KEYS))
# Each owned key and the setting that writes it, for messages.
KEY_SETTINGS = dict((key, setting) for setting, key in SETTING_KEYS)
KEY_SETTINGS.update({"hosts": "unix_socket/tcp", "tls": "tls_ca_cert", "tlsverify": "tls_ca_cert",
                     "tlscacert": "tls_ca_cert", "tlscert": "tls_cert", "tlskey": "tls_key",
                     "proxies": "http_proxy/https_proxy/no_proxy"})
PROXY_ENV = (("http_proxy", "HTTP_PROXY", "http-proxy"), ("https_proxy", "HTTPS_PROXY", "https-proxy"),
             ("no_proxy", "NO_PROXY", "no-proxy"))


def _given(value):
    """None, "" and empty lists or dicts mean "not set"."""
    return value is not None and value not in ("", [], {})


class Plan:
    """The outcome of comparing the live files with the candidate ones."""

    def __init__(self, before, after, drop_in_before, drop_in_after, warnings, secrets):
        self.before, self.after = before, after
        self.drop_in_before, self.drop_in_after = drop_in_before, drop_in_after
        self.warnings, self.secrets = warnings, secrets
        keys = set(before or {}) | set(after)
        self.changed_keys = sorted(k for k in keys if (before or {}).get(k) != after.get(k))
        self.drop_in_changed = drop_in_before != drop_in_after
        self.config_changed = bool(self.changed_keys)

    @property
    def changed(self):
        return self.config_changed or self.drop_in_changed

    @property
    def restart_required(self):
        return self.drop_in_changed or any(k not in RELOADABLE_KEYS for k in self.changed_keys)

    @property
    def reload_sufficient(self):
        return self.changed and not self.restart_required

    @property
    def action(self):
        if self.restart_required:
            return "restart"
        return "reload" if self.reload_sufficient else "none"


def parse_current(text, path, exclusive):
    """The live daemon.json as a dict; None when there is none. Broken JSON is refused unless exclusive."""
    if text is None or not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        if exclusive:
            return {}
        raise DockerdConfigError(path, "the existing file is not valid JSON (%s); fix it, or set exclusive: true "
                                 "to replace it" % exc)
    if not isinstance(data, dict):
        if exclusive:
            return {}
        raise DockerdConfigError(path, "the existing file holds a JSON %s, not an object; fix it, or set "
                                 "exclusive: true to replace it" % type(data).__name__)
    return data


def render_config(config):
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def owned_settings(params):
    """daemon.json values of the module's named settings, normalised and checked one by one."""
    out = {}
    mirrors = params.get("registry_mirrors") or []
    if mirrors:
        out["registry-mirrors"] = [validate.mirror_url("registry_mirrors", m) for m in mirrors]
    registries = params.get("insecure_registries") or []
    if registries:
        out["insecure-registries"] = [validate.insecure_registry("insecure_registries", r) for r in registries]
    if params.get("selinux_enabled") is not None:
        out["selinux-enabled"] = bool(params["selinux_enabled"])
    if _given(params.get("bip")) and _given(params.get("bridge")):
        raise DockerdConfigError("bip", "bip and bridge are mutually exclusive (dockerd: \"You specified -b & "
                                 "--bip, mutually exclusive options\"): set bip to give docker0 an address, "
                                 "or bridge to use an existing bridge, not both")
    if _given(params.get("bip")):
        out["bip"] = validate.bridge_ip("bip", params["bip"])
    if _given(params.get("bridge")):
        out["bridge"] = str(params["bridge"])
    pools = params.get("default_address_pools") or []
    if pools:
        out["default-address-pools"] = [_address_pool(i, pool) for i, pool in enumerate(pools)]
    if _given(params.get("log_driver")):
        out["log-driver"] = str(params["log_driver"])
    if params.get("log_opts"):
        # dockerd reads log-opts as strings only: 3 would stop it from starting, "3" works
        out["log-opts"] = dict((str(k), _scalar_text(v)) for k, v in params["log_opts"].items())
    if _given(params.get("storage_driver")):
        out["storage-driver"] = str(params["storage_driver"])
    if _given(params.get("data_root")):
        if not str(params["data_root"]).startswith("/"):
            raise DockerdConfigError("data_root", "%r must be an absolute path" % params["data_root"])
        out["data-root"] = str(params["data_root"])
    if params.get("live_restore") is not None:
        out["live-restore"] = bool(params["live_restore"])
    if _given(params.get("unix_socket_group")):
        out["group"] = str(params["unix_socket_group"])
    return out


def _scalar_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _address_pool(index, pool):
    setting = "default_address_pools[%d]" % index
    if not isinstance(pool, dict) or set(pool) != {"base", "size"}:
        raise DockerdConfigError(setting, "each pool is a dict with exactly base (CIDR) and size (prefix length)")
    base = validate.network(setting, pool["base"])
    try:
        size = int(pool["size"])
    except (TypeError, ValueError):
        raise DockerdConfigError(setting, "size %r is not a prefix length" % (pool["size"],))
    if not base.prefixlen <= size <= base.max_prefixlen:
        raise DockerdConfigError(setting, "size /%d must be between the base's /%d and /%d"
                                 % (size, base.prefixlen, base.max_prefixlen))
    return {"base": str(base), "size": size}


def listener_settings(params, warnings):
    """``hosts`` and the TLS keys; a TCP listener without TLS is refused unless acknowledged."""
    out = {}
    hosts = []
    if _given(params.get("unix_socket")):
        if not str(params["unix_socket"]).startswith("/"):
            raise DockerdConfigError("unix_socket", "%r must be an absolute path" % params["unix_socket"])
        hosts.append("unix://" + params["unix_socket"])
    tcp = validate.tcp_address("tcp", params["tcp"]) if _given(params.get("tcp")) else None
    if tcp:
        hosts.append(tcp)
    if not hosts:
        raise DockerdConfigError("unix_socket", "dockerd would listen nowhere: set unix_socket, tcp or both")
    out["hosts"] = hosts
    tls_paths = [(name, params.get(name)) for name in ("tls_ca_cert", "tls_cert", "tls_key")]
    given = [name for name, value in tls_paths if _given(value)]
    if given and len(given) < 3:
        missing = [name for name, _ in tls_paths if name not in given]
        raise DockerdConfigError(missing[0], "TLS needs tls_ca_cert, tls_cert and tls_key together; "
                                 "missing: %s" % ", ".join(missing))
    if given and not tcp:
        raise DockerdConfigError("tcp", "TLS files are given but no tcp listener; set tcp (e.g. 0.0.0.0:2376) "
                                 "or drop the TLS settings")
    if tcp and not given:
        if not params.get("tcp_insecure_ack"):
            raise DockerdConfigError("tcp", "%s without TLS gives anyone who reaches the port root on the host "
                                     "(CIS Docker 2.7): set tls_ca_cert, tls_cert and tls_key (the docker_daemon "
                                     "role generates them), or tcp_insecure_ack: true to accept the risk" % tcp)
        warnings.append("dockerd listens on %s without TLS: the port is root-equivalent for anyone who reaches "
                        "it (CIS Docker 2.7)" % tcp)
    if given:
        if params.get("check_tls_files", True):
            for name, value in tls_paths:
                check_tls_file(name, value)
        out["tlsverify"] = True
        out["tlscacert"] = params["tls_ca_cert"]
        out["tlscert"] = params["tls_cert"]
        out["tlskey"] = params["tls_key"]
    return out


def proxy_settings(params, version):
    """The proxy environment for the drop-in and, on Engine 23.0+, daemon.json ``proxies``."""
    environment, proxies, secrets = {}, {}, []
    for setting, env_name, json_name in PROXY_ENV:
        value = params.get(setting)
        if not _given(value):
            continue
        if setting != "no_proxy":
            value = validate.proxy_url(setting, value)
            secrets.extend(validate.url_secrets(value))
        else:
            value = ",".join(part.strip() for part in str(value).split(",") if part.strip())
        environment[env_name] = value
        proxies[json_name] = value
    if proxies and version is not None and tuple(version[:2]) >= (23, 0):
        return environment, {"proxies": proxies}, secrets
    return environment, {}, secrets


def build_plan(params, current_text, drop_in_text, exec_start, version):
    """Check every setting and return the Plan; raise DockerdConfigError before anything is written."""
    warnings = []
    exclusive = bool(params.get("exclusive"))
    path = params.get("path") or "/etc/docker/daemon.json"
    current = parse_current(current_text, path, exclusive)

    owned = owned_settings(params)
    listeners = listener_settings(params, warnings)
    environment, proxy_keys, secrets = proxy_settings(params, version)
    extra = params.get("options") or {}
    for key in sorted(extra):
        if key in KEY_SETTINGS:
            raise DockerdConfigError("options", "%r is given in options but is the module's setting %s; "
                                     "set it there, not both" % (key, KEY_SETTINGS[key]))

    desired = {}
    desired.update(owned)
    desired.update(listeners)
    desired.update(proxy_keys)
    desired.update(extra)
    owned_keys = OWNED_KEYS | set(extra)

    candidate = {}
    if current and not exclusive:
        candidate.update((k, v) for k, v in current.items() if k not in owned_keys)
    candidate.update(desired)

    for key in sorted(candidate):
        problem = key_problem(key, version)
        if problem:
            source = "options" if key in extra else KEY_SETTINGS.get(key, "the existing daemon.json")
            if key not in desired:
                source = "the existing daemon.json"
            raise DockerdConfigError(key, "%s (from %s); remove it%s" % (
                problem, source, ", or set exclusive: true to drop keys berth does not own"
                if source == "the existing daemon.json" else ""))

    argv = daemon_argv(exec_start)
    if path != "/etc/docker/daemon.json":
        argv += ["--config-file", path]
    both = sorted(set(flag_keys(argv)) & set(candidate) - {"config-file"})
    if both:
        raise DockerdConfigError(both[0], "set both as a dockerd flag in docker.service (%s) and in daemon.json; "
                                 "dockerd refuses to start: remove it from one of them"
                                 % exec_start)

    socket_chmod = None
    if _given(params.get("unix_socket_mode")) and _given(params.get("unix_socket")):
        mode = str(params["unix_socket_mode"])
        if not all(c in "01234567" for c in mode) or not 3 <= len(mode) <= 4:
            raise DockerdConfigError("unix_socket_mode", "%r is not an octal mode such as 0660" % mode)
        socket_chmod = (mode.zfill(4), params["unix_socket"])
    drop_in = render_drop_in(argv, environment, socket_chmod)
    return Plan(current, candidate, drop_in_text, drop_in, warnings, secrets)
