"""Kernel release parsing and the minimum-version check."""
import re

_RELEASE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


def parse_kernel_release(release):
    """``"3.10.0-1160.el7.x86_64"`` -> ``(3, 10, 0)``; ValueError when not a release."""
    match = _RELEASE.match(release or "")
    if not match:
        raise ValueError("not a kernel release: %r" % (release,))
    return tuple(int(part) if part else 0 for part in match.groups())


def parse_minimum(minimum):
    """``"3.10"`` -> ``(3, 10, 0)``; ValueError on anything else."""
    if not re.match(r"^\d+(\.\d+){0,2}$", str(minimum).strip()):
        raise ValueError("not a kernel version: %r (expected e.g. 3.10)" % (minimum,))
    parts = [int(p) for p in str(minimum).strip().split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def kernel_meets_minimum(release, minimum):
    """True when the running kernel release is at least ``minimum``."""
    return parse_kernel_release(release) >= parse_minimum(minimum)
