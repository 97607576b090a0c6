"""``exec``: a new process inside a running container's namespaces and cgroups.

Runs in the caller (the CLI is single-threaded): fork, join the container's
cgroups, setns into its namespaces (mount last: it changes the root), fork
again so the process is inside the pid namespace, then the same tail as the
container's own init (init.exec_process: caps, user, no_new_privs, seccomp).
The plan comes from specconv.exec_plan.
"""
import fcntl
import os
import struct
import termios

from ...common import paths
from ...common.errors import BerthError
from .. import syscalls
from . import cgroups, init, state
from .errors import Conflict

NAMESPACE_ORDER = (("ipc", syscalls.CLONE_NEWIPC), ("uts", syscalls.CLONE_NEWUTS),
                   ("net", syscalls.CLONE_NEWNET), ("pid", syscalls.CLONE_NEWPID),
                   ("cgroup", syscalls.CLONE_NEWCGROUP), ("mnt", syscalls.CLONE_NEWNS))


def _open_namespaces(pid):
    fds = []
    own = {}
    for name, _ in NAMESPACE_ORDER:
        try:
            own[name] = os.readlink("/proc/self/ns/%s" % name)
        except OSError:
            own[name] = None
    for name, flag in NAMESPACE_ORDER:
        path = "/proc/%d/ns/%s" % (pid, name)
        try:
            if os.readlink(path) == own[name]:
                continue  # shared with the host (--network host): nothing to join
            fds.append((os.open(path, os.O_RDONLY | os.O_CLOEXEC), flag))
        except OSError:
            continue
    return fds


def spawn_exec(record, plan, stdio, detach=False, console_fd=None):
    """Fork the exec'd process; returns the pid of the intermediate that reports its exit.

    With ``console_fd`` (a unix socket), the process gets a pty opened inside the
    container and the master is sent back over that socket.
    """
    pid = record["State"]["Pid"]
    if not record["State"]["Running"] or not state.process_alive(
            pid, record.get("Berth", {}).get("StartTicks")):
        raise Conflict("Container %s is not running" % record["Id"])
    namespaces = _open_namespaces(pid)
    group = cgroups.for_container(record["Id"], paths.cgroup_parent())
    err_r, err_w = os.pipe()
    child = os.fork()
    if child == 0:
        code = 127
        try:
            os.close(err_r)
            if detach:
                os.setsid()
            try:
                group.join(0)  # 0: this fresh, single-threaded fork (see CgroupV1.join)
            except OSError:
                pass  # the container's cgroup is gone only if it is exiting
            for fd, flag in namespaces:
                syscalls.setns(fd, flag)
                os.close(fd)
            if console_fd is not None:
                # a pty of the container's devpts (we now see its /dev), master to the caller
                master, slave = os.openpty()
                if plan.get("tty_size"):
                    rows, cols = plan["tty_size"]
                    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                init.send_fd(console_fd, master)
                os.close(master)
                stdio = [slave, slave, slave]
            grandchild = os.fork()
            if grandchild == 0:
                _exec_inside(plan, stdio, err_w)
            os.close(err_w)
            for fd in set(stdio):
                if fd > 2:
                    os.close(fd)
            _, status = os.waitpid(grandchild, 0)
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        except BaseException as exc:
            try:
                os.write(err_w, str(exc).encode())
            except OSError:
                pass
        os._exit(code)
    for fd, _ in namespaces:
        os.close(fd)
    os.close(err_w)
    return child, err_r


def _exec_inside(plan, stdio, err_w):
    """In the container's namespaces: stdio, then init.exec_process (the tail pid 1 runs too)."""
    code = 1
    try:
        init.reset_signals()
        if plan["tty"]:
            init.set_up_stdio(dict(plan, console_fd=None), stdio)
        else:
            for target, fd in enumerate(stdio):
                if fd != target:
                    os.dup2(fd, target)
        init.exec_process(plan, err_w)
    except BerthError as exc:
        code = exc.exit_code
        os.write(err_w, str(exc).encode())
    except OSError as exc:
        code = 126
        os.write(err_w, ("exec %s: %s" % (plan["argv"][0], exc.strerror)).encode())
    except BaseException as exc:
        os.write(err_w, str(exc).encode())
    os._exit(code)


def read_error(fd):
    return init.read_to_eof(fd).decode("utf-8", "replace")
