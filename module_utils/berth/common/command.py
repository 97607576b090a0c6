"""Run external commands as argv lists, in the C locale, never through a shell."""
import os
import subprocess


class CommandError(Exception):
    def __init__(self, argv, rc, stdout, stderr):
        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr
        tail = "\n".join((stderr or stdout or "").strip().splitlines()[-8:])
        Exception.__init__(self, "%s exited %d: %s" % (" ".join(argv), rc, tail))


def run(argv, check=True, timeout=None, stdin_data=None):
    """Run ``argv``; return ``(rc, stdout, stderr)`` as text. Raise CommandError on failure if ``check``."""
    env = dict(os.environ, LC_ALL="C", LANG="C")
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, universal_newlines=True,
        close_fds=True,
    )
    try:
        out, err = proc.communicate(stdin_data, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise CommandError(argv, -9, out, (err or "") + "\n(timed out after %ss)" % timeout)
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, out, err)
    return proc.returncode, out, err
