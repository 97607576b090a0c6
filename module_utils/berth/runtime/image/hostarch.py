"""The host's platform in OCI terms (GOARCH names, as image indexes use them)."""
import platform

_MACHINE_TO_GOARCH = {
    "x86_64": ("amd64", ""), "amd64": ("amd64", ""),
    "aarch64": ("arm64", "v8"), "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"), "armv5tel": ("arm", "v5"),
    "i386": ("386", ""), "i486": ("386", ""), "i586": ("386", ""), "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""), "riscv64": ("riscv64", ""),
    "mips64": ("mips64", ""), "loongarch64": ("loong64", ""),
}


def host_platform():
    """``(os, architecture, variant)`` of this machine, e.g. ``("linux", "amd64", "")``."""
    arch, variant = _MACHINE_TO_GOARCH.get(platform.machine(), (platform.machine(), ""))
    return "linux", arch, variant


def parse_platform(text):
    """``linux/arm64/v8`` -> ``("linux", "arm64", "v8")``."""
    parts = text.split("/")
    if len(parts) == 1:
        return "linux", parts[0], ""
    return parts[0], parts[1], parts[2] if len(parts) > 2 else ""
