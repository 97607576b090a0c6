"""Service state from one ``systemctl show`` call, and firewall/iptables probes."""
import re


def systemctl_show_argv(units):
    """One call that reports load, activity and enablement for many units."""
    return ["systemctl", "show", "--property=Id,LoadState,ActiveState,UnitFileState"] + list(units)


def parse_systemctl_show(text, units):
    """Map each unit asked for to ``{"installed", "active", "enabled", "active_state", "unit_file_state"}``.

    ``systemctl show`` prints one block per unit, in the order asked, blocks
    separated by a blank line; a unit that does not exist has LoadState=not-found.
    """
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()] if text.strip() else []
    result = {}
    for unit, block in zip(units, blocks):
        fields = {}
        for line in block.splitlines():
            key, _, value = line.partition("=")
            fields[key.strip()] = value.strip()
        load = fields.get("LoadState", "")
        unit_file = fields.get("UnitFileState", "")
        result[unit] = {
            "installed": load not in ("", "not-found"),
            "active": fields.get("ActiveState") == "active",
            "enabled": unit_file in ("enabled", "enabled-runtime", "alias", "static", "generated"),
            "active_state": fields.get("ActiveState", ""),
            "unit_file_state": unit_file,
        }
    for unit in units:
        result.setdefault(unit, {
            "installed": False, "active": False, "enabled": False,
            "active_state": "", "unit_file_state": "",
        })
    return result


def parse_firewall_cmd_state(text):
    """``firewall-cmd --state`` prints "running" or "not running"."""
    return text.strip() == "running"


def parse_iptables_version(text):
    """``iptables --version`` -> ``{"version": "1.8.9", "backend": "nf_tables"}``.

    iptables before 1.8 (EL 7's 1.4.21) prints no backend: it is always legacy.
    """
    match = re.search(r"iptables v(\d+(?:\.\d+)*)(?:\s+\((\w+)\))?", text)
    if not match:
        return {"version": None, "backend": None}
    return {"version": match.group(1), "backend": match.group(2) or "legacy"}
