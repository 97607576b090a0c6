"""Package queries without the package manager's slow paths.

Reading what is installed (dpkg-query, rpm) takes milliseconds, while a
package-manager task takes about a second; the role asks here first and only
calls the package manager when something must change. Pinned versions are
resolved against what the configured repositories offer, so a version that
does not exist fails before anything is installed.
"""
import re

from .errors import HostprepError

DPKG_FORMAT = "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n"
RPM_FORMAT = "%{NAME}\\t%{EPOCH}:%{VERSION}-%{RELEASE}\\n"


def installed_query_argv(package_manager, names):
    if package_manager == "apt":
        return ["dpkg-query", "-W", "-f", DPKG_FORMAT.replace("\\t", "\t").replace("\\n", "\n")] + list(names)
    return ["rpm", "-q", "--qf", RPM_FORMAT.replace("\\t", "\t").replace("\\n", "\n")] + list(names)


def parse_dpkg_query(text):
    """``{name: version}`` for packages dpkg reports as installed ("ii" / "hi")."""
    installed = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        name, version, status = fields[0], fields[1], fields[2]
        if status.strip()[1:2] == "i" and version:
            installed[name.split(":")[0]] = version
    return installed


def parse_rpm_query(text):
    """``{name: "epoch:version-release"}``; rpm prints "(none)" for no epoch, dropped here."""
    installed = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 2 or line.startswith("package "):
            continue
        name, evr = fields
        if evr.startswith("(none):"):
            evr = evr[len("(none):"):]
        installed[name] = evr
    return installed


def parse_apt_cache_madison(text):
    """``{name: [versions, newest first]}`` from ``apt-cache madison``."""
    versions = {}
    for line in text.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) < 3:
            continue
        entries = versions.setdefault(fields[0], [])
        if fields[1] not in entries:
            entries.append(fields[1])
    return versions


def parse_yum_list(text):
    """``{name: [versions, newest first]}`` from ``yum/dnf --showduplicates list``.

    Lines look like ``docker-ce.x86_64   3:20.10.24-3.el7   docker-ce-stable``;
    yum lists oldest first. A long name makes yum wrap the line, so a name
    alone on a line is joined with the next one.
    """
    versions = {}
    pending = None
    for line in text.splitlines():
        fields = line.split()
        if pending is not None:
            fields = [pending] + fields
            pending = None
        if len(fields) == 1 and re.match(r"^\S+\.(x86_64|noarch|aarch64|i686|ppc64le|s390x)$", fields[0]):
            pending = fields[0]
            continue
        if len(fields) != 3 or "." not in fields[0] or not re.match(r"^(\d+:)?\d", fields[1]):
            continue
        name = fields[0].rsplit(".", 1)[0]
        entries = versions.setdefault(name, [])
        if fields[1] not in entries:
            entries.append(fields[1])
    return {name: list(reversed(entries)) for name, entries in versions.items()}


def strip_epoch(version):
    return version.split(":", 1)[1] if re.match(r"^\d+:", version) else version


def version_matches(pin, version):
    """A pin names a version or a prefix of one: "20.10.24" matches "5:20.10.24~3-0~debian-bookworm"."""
    bare = strip_epoch(version)
    if pin in (version, bare):
        return True
    for candidate in (version, bare):
        if candidate.startswith(pin) and candidate[len(pin):len(pin) + 1] in ("-", "+", "~", "."):
            return True
    return False


def resolve_pin(name, pin, available):
    """The newest available full version matching ``pin``; HostprepError naming what exists otherwise."""
    offered = available.get(name, [])
    for version in offered:
        if version_matches(pin, version):
            return version
    shown = ", ".join(offered[:8]) + (" ..." if len(offered) > 8 else "") if offered else "none"
    raise HostprepError(
        "%s version %s is not available from the configured repositories (available: %s): "
        "fix the pinned version or the repository" % (name, pin, shown)
    )


def package_spec(package_manager, name, version):
    """How the package manager names one exact version: name=ver (apt), name-ver-rel (yum/dnf)."""
    if not version:
        return name
    if package_manager == "apt":
        return "%s=%s" % (name, version)
    return "%s-%s" % (name, strip_epoch(version))


def available_query_argv(package_manager, names):
    if package_manager == "apt":
        return ["apt-cache", "madison"] + list(names)
    return [package_manager, "-q", "--showduplicates", "list", "available"] + list(names)


def parse_available(package_manager, text):
    return parse_apt_cache_madison(text) if package_manager == "apt" else parse_yum_list(text)


def query_installed(run, package_manager, names):
    if not names:
        return {}
    rc, out, err = run(installed_query_argv(package_manager, names))
    if rc == 127:
        raise HostprepError("cannot query installed packages: %s" % err.strip())
    return parse_dpkg_query(out) if package_manager == "apt" else parse_rpm_query(out)


def query_available(run, package_manager, names):
    if not names:
        return {}
    rc, out, err = run(available_query_argv(package_manager, names))
    if rc not in (0, 1):
        raise HostprepError(
            "cannot list available versions of %s: %s" % (", ".join(names), err.strip() or "rc=%d" % rc)
        )
    return parse_available(package_manager, out)


def decide(run, package_manager, present, pins, absent):
    """What must be installed and removed: ``{installed, resolved, to_install, to_remove}``."""
    names = list(present) + [n for n in absent if n not in present]
    found = query_installed(run, package_manager, names)
    installed = dict((name, found.get(name)) for name in names)
    resolved = {}
    unresolved = []
    for name, pin in sorted(pins.items()):
        if installed.get(name) and version_matches(pin, installed[name]):
            resolved[name] = installed[name]
        else:
            unresolved.append(name)
    if unresolved:
        available = query_available(run, package_manager, unresolved)
        for name in unresolved:
            resolved[name] = resolve_pin(name, pins[name], available)
    to_install = []
    for name in present:
        if name in pins:
            if installed.get(name) != resolved[name]:
                to_install.append(package_spec(package_manager, name, resolved[name]))
        elif not installed.get(name):
            to_install.append(name)
    to_remove = [name for name in absent if installed.get(name) and name not in present]
    return {"installed": installed, "resolved": resolved, "to_install": to_install, "to_remove": to_remove}
