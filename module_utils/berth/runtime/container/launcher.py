"""Starting a store root's supervisor: double fork into a new session, bind, serve.

Called by client.connect when no supervisor answers. The grandchild becomes
the supervisor (supervisor.Supervisor) without a new interpreter: it closes
every inherited descriptor, logs to ``<root>/supervisor.log`` and serves until
it has been idle long enough.
"""
import os
import socket

from .. import syscalls
from ..network.bridge import default_network
from .protocol import socket_name
from .supervisor import Supervisor


def start_supervisor(root):
    """Fork the root's supervisor and wait until it listens (or another one won the race)."""
    ready_r, ready_w = os.pipe()
    first = os.fork()
    if first == 0:
        try:
            os.close(ready_r)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            _become_supervisor(root, ready_w)
        except BaseException:
            pass
        os._exit(0)
    os.close(ready_w)
    os.waitpid(first, 0)
    os.read(ready_r, 16)
    os.close(ready_r)


def _become_supervisor(root, ready_w):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        listener.bind(socket_name(root))
    except OSError:
        os.write(ready_w, b"busy")  # another supervisor won the race: use it
        os._exit(0)
    listener.listen(128)
    os.chdir("/")
    os.umask(0o022)
    log_path = os.path.join(os.path.abspath(root), "supervisor.log")
    null = os.open(os.devnull, os.O_RDWR)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    keep = {listener.fileno(), ready_w}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    try:
        syscalls.set_process_name("berth-supervis")
    except OSError:
        pass
    network = default_network(root)  # read once: the supervisor's containers share it
    supervisor = Supervisor(root, listener, lambda: network)
    os.write(ready_w, b"ok")
    os.close(ready_w)
    try:
        supervisor.serve()
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        os._exit(0)
