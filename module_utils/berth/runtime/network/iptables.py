"""iptables rules of a berth bridge, added and removed exactly.

Rules are applied in one ``iptables-restore --noflush`` call per change (one
process, one ruleset commit) instead of one ``iptables`` process per rule.
Removal deletes exactly the rules that were added, so ``iptables -S`` after a
teardown equals ``iptables -S`` before the set-up.
"""
from ...common.command import run
from ...common.errors import BerthError


def _restore(tables):
    """tables: {table: [rule args...]} where each rule is a string like '-A CHAIN ...'."""
    lines = []
    for table in ("filter", "nat"):
        rules = tables.get(table)
        if not rules:
            continue
        lines.append("*" + table)
        lines.extend(rules)
        lines.append("COMMIT")
    if not lines:
        return
    rc, _, err = run(["iptables-restore", "--noflush", "-w"], check=False,
                     stdin_data="\n".join(lines) + "\n")
    if rc:
        raise BerthError("iptables-restore failed: %s" % err.strip())


def _list(table):
    _, out, _ = run(["iptables", "-w", "-t", table, "-S"])
    return out.splitlines()


def chain_name(bridge):
    return "BERTH" if bridge == "berth0" else ("BERTH-" + bridge.upper())[:28]


def bridge_rules(bridge, subnet):
    """The per-bridge rules: NAT chain jumps, MASQUERADE, hairpin from loopback, forwarding."""
    chain = chain_name(bridge)
    return {
        "nat": [
            "-A PREROUTING -m addrtype --dst-type LOCAL -j %s" % chain,
            "-A OUTPUT -m addrtype --dst-type LOCAL -j %s" % chain,
            "-A POSTROUTING -s %s ! -o %s -j MASQUERADE" % (subnet, bridge),
            "-A POSTROUTING -o %s -m addrtype --src-type LOCAL -j MASQUERADE" % bridge,
        ],
        "filter": [
            "-A FORWARD -j %s" % chain,
            "-A %s -o %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" % (chain, bridge),
            "-A %s -i %s -j ACCEPT" % (chain, bridge),
        ],
    }


def port_rules(bridge, address, bindings):
    """DNAT in the bridge's chain plus the ACCEPT that lets it through FORWARD."""
    chain = chain_name(bridge)
    nat, flt = [], []
    for host_ip, host_port, container_port, proto in bindings:
        dest = "-d %s/32 " % host_ip if host_ip and host_ip != "0.0.0.0" else ""
        nat.append("-A %s %s-p %s -m %s --dport %d -j DNAT --to-destination %s:%d"
                   % (chain, dest, proto, proto, host_port, address, container_port))
        flt.append("-A %s -d %s/32 ! -i %s -o %s -p %s -m %s --dport %d -j ACCEPT"
                   % (chain, address, bridge, bridge, proto, proto, container_port))
    return {"nat": nat, "filter": flt}


def _present(table, rule):
    return rule in _list(table)


def add_bridge_rules(bridge, subnet):
    chain = chain_name(bridge)
    rules = bridge_rules(bridge, subnet)
    tables = {}
    for table in ("nat", "filter"):
        existing = _list(table)
        lines = [] if ("-N %s" % chain) in existing else [":%s - [0:0]" % chain]
        for rule in rules[table]:
            if rule not in existing:
                lines.append(rule.replace("-A FORWARD -j", "-I FORWARD 1 -j", 1))
        tables[table] = lines if len(lines) > 0 else []
    _restore(tables)


def remove_bridge_rules(bridge, subnet):
    """Delete the bridge's rules, then its chains (which only hold our rules)."""
    chain = chain_name(bridge)
    rules = bridge_rules(bridge, subnet)
    tables = {}
    for table in ("nat", "filter"):
        existing = _list(table)
        lines = ["-D" + rule[2:] for rule in rules[table] if rule in existing
                 and not rule.startswith("-A %s " % chain)]
        if ("-N %s" % chain) in existing:
            lines.append("-F %s" % chain)
            lines.append("-X %s" % chain)
        tables[table] = lines
    _restore(tables)


def add_port_rules(bridge, address, bindings):
    _restore(port_rules(bridge, address, bindings))


def remove_port_rules(bridge, address, bindings):
    tables = {}
    for table, rules in port_rules(bridge, address, bindings).items():
        existing = _list(table)
        tables[table] = ["-D" + rule[2:] for rule in rules if rule in existing]
    _restore(tables)
