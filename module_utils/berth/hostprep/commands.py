"""Running probe commands: one calling convention for modules and tests.

A probe takes ``run(argv) -> (rc, stdout, stderr)``. Modules pass a wrapper
around ``AnsibleModule.run_command``; the CLI and the tests use
``subprocess_runner`` (common.command.probe). A missing program is ``rc == 127``, as in a shell.
"""
import os

from ..common.command import C_LOCALE
from ..common.command import probe as subprocess_runner

__all__ = ["C_LOCALE", "find_program", "module_runner", "read_text", "subprocess_runner"]


def module_runner(module):
    """Adapt ``AnsibleModule.run_command`` to the probe convention."""

    def run(argv):
        if module.get_bin_path(argv[0]) is None and not os.path.isabs(argv[0]):
            return 127, "", "%s: command not found" % argv[0]
        return module.run_command(argv, environ_update=C_LOCALE)

    return run


def find_program(name, path=None):
    """Return the absolute path of ``name`` on PATH plus the sbin dirs, or None."""
    dirs = (path or os.environ.get("PATH", "")).split(os.pathsep)
    for extra in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if extra not in dirs:
            dirs.append(extra)
    for directory in dirs:
        candidate = os.path.join(directory, name)
        if directory and os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def read_text(path, default=None):
    """Read a small text file, or return ``default`` when it cannot be read."""
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return default
