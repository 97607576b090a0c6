"""Forking a container's pid 1 straight into its new namespaces, from the supervisor.

The supervisor (a warm, single-threaded process) forks every container itself:
no new interpreter, one fork per container. ``Forker.fork_container`` does the
namespace dance and the hand-shake with the child (ready -> network wired ->
go); init.container_main is what the child runs.
"""
import json
import os
import selectors
import signal
import socket
import struct
import time

from .. import syscalls
from . import init
from .errors import ContainerError

SPAWN_TIMEOUT = 60


def exit_code_of(status):
    """A wait status as Docker reports it: the exit code, or 128 + the signal."""
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return 255


def namespace_flags(network):
    flags = syscalls.CLONE_NEWNS | syscalls.CLONE_NEWUTS | syscalls.CLONE_NEWIPC | syscalls.CLONE_NEWPID
    if network != "host":
        flags |= syscalls.CLONE_NEWNET
    if os.path.exists("/proc/self/ns/cgroup"):
        flags |= syscalls.CLONE_NEWCGROUP
    return flags


def make_stdio(config, child_fds):
    """The child's stdin/stdout/stderr and what the supervisor keeps of them.

    Returns (stdio for the child, outputs {fd: stream}, stdin writer or None,
    console socket or None). With a tty the container opens its pty from its
    own devpts and sends the master back over the console socket.
    """
    if config.get("Tty"):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child_fds.append(child.detach())
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        child_fds.append(null)
        return [null, null, null], {}, None, parent
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    child_fds.extend([out_w, err_w])
    stdin_w = None
    if config.get("OpenStdin"):
        in_r, stdin_w = os.pipe()
    else:
        in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    child_fds.append(in_r)
    return [in_r, out_w, err_w], {out_r: "stdout", err_r: "stderr"}, stdin_w, None


def receive_console(sock):
    """The pty master the container sent over its console socket."""
    sock.settimeout(10)
    try:
        _, ancillary, _, _ = sock.recvmsg(1, socket.CMSG_LEN(4))
    finally:
        sock.close()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            return struct.unpack("i", data[:4])[0]
    raise ContainerError("the container did not hand over its terminal")


def read_error(fd):
    """What the child wrote on its error pipe before it exec'd (closing it) or exited."""
    chunks = []
    deadline = time.time() + SPAWN_TIMEOUT
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    try:
        while time.time() < deadline:
            if not sel.select(max(0.0, deadline - time.time())):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sel.close()
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def kill_and_reap(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        return os.waitpid(pid, 0)[1]
    except OSError:
        return 0


def _report_and_exit(fd, exc):
    try:
        os.write(fd, ("runtime: %s" % exc).encode())
    finally:
        os._exit(1)


class SpawnError(ContainerError):
    """The container's set-up failed before its command ran; ``exit_code`` is Docker's for it
    (127 command not found, 126 not executable, 125 otherwise)."""

    def __init__(self, message, exit_code=125):
        ContainerError.__init__(self, message)
        self.exit_code = exit_code


class Forker(object):
    """Forks container processes from the calling (supervisor) process."""

    def __init__(self):
        try:
            self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.own_pid_ns = None

    def fork_container(self, plan, stdio, cgroup, child_fds, wire_network=None):
        """Fork the container's pid 1 straight into a new pid namespace; returns its pid.

        unshare(CLONE_NEWPID) only changes where our *next child* goes, so the
        supervisor unshares, forks, and at once setns()es back to its own pid
        namespace: one fork per container and the pid known without a
        round-trip. The child joins its cgroup and unshares the other
        namespaces itself. Where that is refused, an intermediate process does
        the double fork instead. ``wire_network(pid)`` (bridge containers) runs
        once the child has its network namespace and returns the interface the
        child configures; the child waits for it.
        """
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        err_r, err_w = os.pipe()
        flags = namespace_flags(plan["network"])
        if wire_network is None:
            os.write(go_w, b"{}")  # nothing to wait for: the child runs straight through
            os.close(go_w)
            go_w = None
        pid = self._fork_direct(plan, stdio, cgroup, flags, go_r, go_w, err_w, ready_r, ready_w)
        if pid is None:
            pid = self._fork_intermediate(plan, stdio, cgroup, flags, go_r, go_w, err_w, ready_w)
        for fd in [go_r, err_w, ready_w] + child_fds:
            os.close(fd)
        if pid <= 0:
            os.close(ready_r)
            error = read_error(err_r)
            if go_w is not None:
                os.close(go_w)
            raise ContainerError(error or "container set-up failed")
        if go_w is not None:
            try:
                # the veth peer must land in the child's own netns: wait until it has one
                if os.read(ready_r, 1) != b"R":
                    raise ContainerError(read_error(err_r) or "container set-up failed")
                interface = wire_network(pid)
            except BaseException:
                os.close(ready_r)
                os.close(go_w)
                kill_and_reap(pid)
                raise
            os.write(go_w, json.dumps({"interface": interface}).encode())
            os.close(go_w)
        os.close(ready_r)
        error = read_error(err_r)
        if error:
            code = exit_code_of(kill_and_reap(pid))
            raise SpawnError("OCI runtime create failed: %s (exit %d)" % (error, code),
                             code if code in (126, 127) else 125)
        return pid

    def _fork_direct(self, plan, stdio, cgroup, flags, go_r, go_w, err_w, ready_r, ready_w):
        if self.own_pid_ns is None:
            return None
        try:
            syscalls.unshare(syscalls.CLONE_NEWPID)
        except OSError:
            self.own_pid_ns = None
            return None
        try:
            pid = os.fork()
        except BaseException:
            syscalls.setns(self.own_pid_ns, syscalls.CLONE_NEWPID)
            raise
        if pid == 0:
            try:
                os.close(ready_r)
                if go_w is not None:
                    os.close(go_w)
                cgroup.join(0)  # 0: the writer itself (our pid is 1 in here)
                syscalls.unshare(flags & ~syscalls.CLONE_NEWPID)
                if go_w is not None:
                    os.write(ready_w, b"R")
                os.close(ready_w)
            except BaseException as exc:
                _report_and_exit(err_w, exc)
            init.container_main(plan, stdio, go_r, err_w)
        syscalls.setns(self.own_pid_ns, syscalls.CLONE_NEWPID)
        return pid

    def _fork_intermediate(self, plan, stdio, cgroup, flags, go_r, go_w, err_w, ready_w):
        pid_r, pid_w = os.pipe()
        intermediate = os.fork()
        if intermediate == 0:
            try:
                os.close(pid_r)
                if go_w is not None:
                    os.close(go_w)
                cgroup.join(0)  # 0: this single-threaded process (see CgroupV1.join)
                syscalls.unshare(flags)
                child = os.fork()
                if child == 0:
                    os.close(pid_w)
                    if go_w is not None:
                        os.write(ready_w, b"R")
                    os.close(ready_w)
                    init.container_main(plan, stdio, go_r, err_w)
                os.write(pid_w, str(child).encode())
                os._exit(0)
            except BaseException as exc:
                _report_and_exit(err_w, exc)
        os.close(pid_w)
        os.waitpid(intermediate, 0)
        raw = os.read(pid_r, 64)
        os.close(pid_r)
        return int(raw) if raw else -1
