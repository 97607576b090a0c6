"""Which distribution, package manager and init system a host runs."""
import shlex

FAMILY_BY_ID = {
    "centos": "RedHat",
    "rhel": "RedHat",
    "rocky": "RedHat",
    "almalinux": "RedHat",
    "ol": "RedHat",
    "fedora": "RedHat",
    "debian": "Debian",
    "ubuntu": "Debian",
}

PACKAGE_MANAGERS = ("dnf", "yum", "apt-get")


def parse_os_release(text):
    """Parse an os-release file into a dict (values unquoted, as the shell would)."""
    result = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw)
        except ValueError:
            words = [raw.strip("\"'")]
        result[key.strip()] = " ".join(words)
    return result


def os_family(os_release):
    """Map os-release fields to Ansible's family name ("RedHat", "Debian") or None."""
    candidates = [os_release.get("ID", "")] + os_release.get("ID_LIKE", "").split()
    for candidate in candidates:
        family = FAMILY_BY_ID.get(candidate.lower())
        if family:
            return family
    return None


def distribution_summary(os_release):
    """The stable distribution keys berth reports: id, version, major version, family, codename."""
    version = os_release.get("VERSION_ID", "")
    return {
        "id": os_release.get("ID", ""),
        "version": version,
        "major_version": version.split(".")[0] if version else "",
        "family": os_family(os_release),
        "pretty_name": os_release.get("PRETTY_NAME", ""),
        "codename": os_release.get("VERSION_CODENAME", ""),
    }


def select_package_manager(available):
    """The package manager berth drives, from the names found on the host."""
    for name in PACKAGE_MANAGERS:
        if name in available:
            return "apt" if name == "apt-get" else name
    return None


def init_system(pid1_comm, run_systemd_present):
    """Name the init system: systemd when /run/systemd/system exists (sd_booted's test)."""
    if run_systemd_present:
        return "systemd"
    comm = (pid1_comm or "").strip()
    return comm or "unknown"
