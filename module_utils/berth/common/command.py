"""Run external commands as argv lists, in the C locale, never through a shell.

The one command runner of the package. ``run(argv, check=False)`` is also the
probe convention of host preparation: ``(rc, stdout, stderr)``, with a missing
program as ``rc == 127`` as in a shell.
"""
import os
import subprocess

from .errors import CommandError

C_LOCALE = {"LC_ALL": "C", "LANG": "C"}

__all__ = ["C_LOCALE", "CommandError", "probe", "run"]


def run(argv, check=True, timeout=None, stdin_data=None, env=None):
    """Run ``argv``; return ``(rc, stdout, stderr)`` as text.

    With ``check``, a non-zero exit, a missing program or a timeout raises
    CommandError; without it they come back as the return code (127 for a
    missing program, -9 after a timeout).
    """
    environ = dict(os.environ if env is None else env)
    environ.update(C_LOCALE)
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ, universal_newlines=True,
            close_fds=True,
        )
    except OSError as exc:
        if check:
            raise CommandError(argv, 127, "", str(exc))
        return 127, "", str(exc)
    try:
        out, err = proc.communicate(stdin_data, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err = (err or "") + "\n(timed out after %ss)" % timeout
        if check:
            raise CommandError(argv, -9, out, err)
        return -9, out, err
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, out, err)
    return proc.returncode, out, err


def probe(argv):
    """``run`` without raising: the probe convention (``(rc, out, err)``, 127 when missing)."""
    return run(argv, check=False)
