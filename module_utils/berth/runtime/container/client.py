"""The caller's side of the supervisor: find the store root's supervisor, or start one.

Kept apart from everything else so that a ``berth run`` imports only this and
protocol.py; the supervisor's own code (launcher.py) is imported only when no
supervisor answers, in the process that forks one.
"""
from .protocol import socket_name


def _new_socket(light):
    if light:
        try:
            import _socket
            return _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        except ImportError:
            pass
    import socket
    return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)


def connect(root, start=True, light=False):
    """A connected socket to the root's supervisor, forking one first if none answers.

    ``light`` returns the bare ``_socket.socket`` (recv, sendall, shutdown, close,
    settimeout; no makefile): the `berth run` path, which must not import socket.
    """
    name = socket_name(root)
    sock = _new_socket(light)
    try:
        sock.connect(name)
        return sock
    except OSError:
        sock.close()
        if not start:
            return None
    from . import launcher
    launcher.start_supervisor(root)
    sock = _new_socket(light)
    sock.connect(name)
    return sock
