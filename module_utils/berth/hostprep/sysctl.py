"""Kernel parameters: files in /etc/sysctl.d, runtime values in /proc/sys, modules to load.

Docker needs ``net.ipv4.ip_forward=1`` and, for bridged traffic to pass
through iptables, ``net.bridge.bridge-nf-call-ip{,6}tables=1``, which only
exist once ``br_netfilter`` is loaded. A value is persisted in a file and set
at runtime; where /proc/sys is read-only (a container) the runtime part is
reported as not settable instead of failing.
"""
import errno
import os
import re

from ..common.atomic import atomic_write
from .errors import HostprepError

HEADER = "# Managed by berth (berth_sysctl): changes here are overwritten.\n"
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$")


def normalize_value(value):
    """Sysctl values compare by words: "4096\\t87380" equals "4096 87380"."""
    if isinstance(value, bool):
        value = int(value)
    return " ".join(str(value).split())


def validate_key(key):
    if not _KEY.match(key or "") or ".." in key:
        raise HostprepError("invalid sysctl key %r: expected dotted names like net.ipv4.ip_forward" % (key,))
    return key


def proc_path(key, proc_root="/proc/sys"):
    """``net.ipv4.ip_forward`` -> ``/proc/sys/net/ipv4/ip_forward`` (a "/" form is accepted too)."""
    validate_key(key)
    relative = key.replace(".", "/") if "/" not in key else key
    return os.path.join(proc_root, relative)


def parse_sysctl_conf(text):
    """``[(key, value)]`` from sysctl.conf syntax (comments with # or ;, a leading - ignores errors)."""
    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        items.append((key.strip().lstrip("-"), normalize_value(value)))
    return items


def render_sysctl_file(settings):
    """The file content for ``settings`` ({key: value}), keys sorted so the text is stable."""
    lines = [HEADER]
    for key in sorted(settings):
        lines.append("%s = %s\n" % (validate_key(key), normalize_value(settings[key])))
    return "".join(lines)


def render_modules_load_file(modules):
    lines = ["# Managed by berth (berth_sysctl): kernel modules loaded at boot.\n"]
    lines.extend("%s\n" % name for name in modules)
    return "".join(lines)


def read_file(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


class SysctlManager:
    """Read, compare and change one sysctl.d file, the runtime values, and module loading."""

    def __init__(self, run, proc_root="/proc/sys", sys_module_root="/sys/module"):
        self.run = run
        self.proc_root = proc_root
        self.sys_module_root = sys_module_root

    def module_loaded(self, name):
        return os.path.isdir(os.path.join(self.sys_module_root, name.replace("-", "_")))

    def plan(self, settings, path, modules=(), modules_load_path=None, state="present"):
        for key in settings:
            validate_key(key)
        file_before = read_file(path)
        if state == "absent":
            return {
                "file_before": file_before, "file_after": None, "file_changed": file_before is not None,
                "modules_to_load": [], "modules_file_before": None, "modules_file_after": None,
                "modules_file_changed": False, "runtime_changes": {}, "runtime_unsettable": {},
                "runtime_values": {},
            }
        file_after = render_sysctl_file(settings)
        # a module is loaded only when a key it provides is missing: built-in code (or a
        # container, which cannot load modules) already shows the keys without /sys/module/NAME
        missing = [k for k in settings if not os.path.exists(proc_path(k, self.proc_root))]
        modules_to_load = [m for m in modules if not self.module_loaded(m)] if missing else []
        modules_file_before = read_file(modules_load_path) if modules_load_path else None
        modules_file_after = render_modules_load_file(modules) if modules_load_path and modules else None

        runtime_values = {}
        runtime_changes = {}
        unsettable = {}
        for key in sorted(settings):
            wanted = normalize_value(settings[key])
            current = read_file(proc_path(key, self.proc_root))
            current = normalize_value(current) if current is not None else None
            runtime_values[key] = current
            if current == wanted:
                continue
            target = proc_path(key, self.proc_root)
            if current is None and not modules_to_load:
                raise HostprepError(
                    "sysctl %s does not exist on this kernel (%s is missing): remove it from the settings "
                    "or load the module that provides it" % (key, target)
                )
            if current is not None and not os.access(target, os.W_OK):
                unsettable[key] = "read-only (%s)" % target
                continue
            runtime_changes[key] = {"before": current, "after": wanted}
        return {
            "file_before": file_before,
            "file_after": file_after,
            "file_changed": file_after != file_before,
            "modules_to_load": modules_to_load,
            "modules_file_before": modules_file_before,
            "modules_file_after": modules_file_after,
            "modules_file_changed": modules_file_after is not None and modules_file_after != modules_file_before,
            "runtime_changes": runtime_changes,
            "runtime_unsettable": unsettable,
            "runtime_values": runtime_values,
        }

    @staticmethod
    def changed(plan):
        return bool(plan["file_changed"] or plan["modules_to_load"] or plan["modules_file_changed"]
                    or plan["runtime_changes"])

    def apply(self, plan, path, modules_load_path=None):
        """Carry out a plan; returns the runtime keys that turned out not settable."""
        for name in plan["modules_to_load"]:
            rc, _, err = self.run(["modprobe", name])
            if rc != 0 and not self.module_loaded(name):
                raise HostprepError("cannot load kernel module %s: %s" % (name, err.strip() or "rc=%d" % rc))
        if plan["modules_file_changed"]:
            atomic_write(modules_load_path, plan["modules_file_after"])
        if plan["file_changed"]:
            if plan["file_after"] is None:
                os.unlink(path)
            else:
                atomic_write(path, plan["file_after"])
        unsettable = dict(plan["runtime_unsettable"])
        for key, change in sorted(plan["runtime_changes"].items()):
            target = proc_path(key, self.proc_root)
            try:
                with open(target, "w") as handle:
                    handle.write(change["after"] + "\n")
            except (IOError, OSError) as exc:
                if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                    unsettable[key] = "%s (%s)" % (os.strerror(exc.errno), target)
                    continue
                if exc.errno == errno.ENOENT:
                    raise HostprepError("sysctl %s does not exist on this kernel (%s)" % (key, target))
                raise
        return unsettable
