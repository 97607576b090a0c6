"""SELinux: the config file (/etc/selinux/config) and the runtime mode.

The config file decides the mode after the next boot; the runtime mode lives in
selinuxfs (``enforce``). Leaving or entering ``disabled`` needs a reboot:
at runtime SELinux can only switch between enforcing and permissive.
"""
import os
import re

from ..common.atomic import atomic_write
from .errors import HostprepError

STATES = ("enforcing", "permissive", "disabled")
SELINUXFS_MOUNTS = ("/sys/fs/selinux", "/selinux")
_ASSIGNMENT = re.compile(r"^\s*(SELINUX|SELINUXTYPE)\s*=\s*(\S*)\s*$")


def parse_selinux_config(text):
    """``{"SELINUX": ..., "SELINUXTYPE": ...}`` from the config file text (keys only when present)."""
    values = {}
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line)
        if match:
            values[match.group(1)] = match.group(2).strip("\"'").lower() if match.group(1) == "SELINUX" \
                else match.group(2).strip("\"'")
    return values


def render_selinux_config(text, state, policy=None):
    """The config text with SELINUX (and SELINUXTYPE when given) set; comments and order kept."""
    wanted = {"SELINUX": state}
    if policy:
        wanted["SELINUXTYPE"] = policy
    lines = text.splitlines()
    seen = set()
    out = []
    for line in lines:
        match = _ASSIGNMENT.match(line)
        if match and match.group(1) in wanted:
            key = match.group(1)
            if key in seen:
                continue  # a second assignment would override the first: keep exactly one
            seen.add(key)
            out.append("%s=%s" % (key, wanted[key]))
        else:
            out.append(line)
    for key in ("SELINUX", "SELINUXTYPE"):
        if key in wanted and key not in seen:
            out.append("%s=%s" % (key, wanted[key]))
    return "\n".join(out) + "\n"


def parse_getenforce(text):
    """``getenforce`` prints Enforcing, Permissive or Disabled."""
    word = text.strip().lower()
    if word not in STATES:
        raise ValueError("unexpected getenforce output: %r" % (text,))
    return word


def parse_sestatus(text):
    """The fields of ``sestatus`` as a dict with lower-case snake_case keys."""
    result = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        key = re.sub(r"[^a-z0-9]+", "_", key.strip().lower()).strip("_")
        result[key] = value.strip()
    return result


def find_selinuxfs(candidates=SELINUXFS_MOUNTS):
    """The selinuxfs mount point holding ``enforce``, or None when the kernel runs without SELinux."""
    for path in candidates:
        if os.path.exists(os.path.join(path, "enforce")):
            return path
    return None


def read_runtime_mode(selinuxfs):
    """"enforcing", "permissive", or "disabled" when no selinuxfs is mounted."""
    if selinuxfs is None:
        return "disabled"
    with open(os.path.join(selinuxfs, "enforce")) as handle:
        return "enforcing" if handle.read().strip() == "1" else "permissive"


class SelinuxManager:
    """Read, compare and change the SELinux config file and runtime mode."""

    def __init__(self, configfile="/etc/selinux/config", selinuxfs=None):
        self.configfile = configfile
        self.selinuxfs = selinuxfs

    def read(self):
        try:
            with open(self.configfile) as handle:
                text = handle.read()
        except (IOError, OSError):
            text = None
        return text, read_runtime_mode(self.selinuxfs)

    def plan(self, state, policy=None):
        """What must change to reach ``state``; raises HostprepError for what cannot be done."""
        if state not in STATES:
            raise HostprepError(
                "unknown SELinux state %r: use one of %s" % (state, ", ".join(STATES))
            )
        config_before, runtime_before = self.read()
        if config_before is None:
            if state != "disabled":
                raise HostprepError(
                    "cannot set SELinux to %s: %s does not exist (the SELinux policy is not installed; "
                    "install selinux-policy-targeted first)" % (state, self.configfile)
                )
            config_after = None
        else:
            config_after = render_selinux_config(
                config_before, state, policy if state != "disabled" else None
            )
            if parse_selinux_config(config_after) == parse_selinux_config(config_before):
                config_after = config_before  # only whitespace or duplicates differ: leave the file alone

        if runtime_before == "disabled":
            runtime_after = "disabled"
        elif state == "disabled":
            runtime_after = "permissive"  # the most setenforce can do; the rest needs a reboot
        else:
            runtime_after = state

        policy_before = parse_selinux_config(config_before or "").get("SELINUXTYPE")
        reboot_required = (
            (state == "disabled" and runtime_after != "disabled")
            or (state != "disabled" and runtime_after == "disabled")
            or (state != "disabled" and policy is not None and policy_before not in (None, policy)
                and runtime_before != "disabled")
        )
        return {
            "state": state,
            "config_before": config_before,
            "config_after": config_after,
            "config_changed": config_after != config_before,
            "runtime_before": runtime_before,
            "runtime_after": runtime_after,
            "runtime_changed": runtime_after != runtime_before,
            "reboot_required": reboot_required,
            "selinux_present": config_before is not None or runtime_before != "disabled",
        }

    def apply(self, plan):
        """Carry out a plan: write the config atomically, then switch the runtime mode."""
        if plan["config_changed"]:
            mode = 0o644
            try:
                mode = os.stat(self.configfile).st_mode & 0o7777
            except OSError:
                pass
            atomic_write(self.configfile, plan["config_after"], mode=mode)
        if plan["runtime_changed"]:
            with open(os.path.join(self.selinuxfs, "enforce"), "w") as handle:
                handle.write("1" if plan["runtime_after"] == "enforcing" else "0")
