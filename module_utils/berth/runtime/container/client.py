"""The caller's side of the supervisor protocol: find or start the root's supervisor.

Kept apart from supervisor.py so that a ``berth run`` imports only this small
module; the supervisor's own code is imported in the forked child that becomes
the supervisor, once per store root.
"""
import os
import socket
import zlib

STREAM_STDOUT, STREAM_STDERR, STREAM_EXIT = 1, 2, 3


def socket_name(root):
    """Abstract unix socket (no file to go stale), one per store root.

    Named by a CRC and the tail of the root path (hashlib would load OpenSSL on
    every command, milliseconds for nothing).
    """
    path = os.path.abspath(root).encode()
    return "\0berth-supervisor-%08x-%s" % (zlib.crc32(path) & 0xFFFFFFFF,
                                            path[-60:].decode("utf-8", "replace"))


def connect(root, start=True):
    """A connected socket to the root's supervisor, forking one first if none answers."""
    name = socket_name(root)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect(name)
        return sock
    except OSError:
        sock.close()
        if not start:
            return None
    from . import supervisor
    supervisor.start_supervisor(root)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.connect(name)
    return sock


def read_reply(sock):
    """One JSON line from the supervisor (read byte by byte: stream frames may follow it)."""
    import json
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            return {"ok": False, "error": "the supervisor closed the connection"}
        data += chunk
    return json.loads(data.decode("utf-8"))
