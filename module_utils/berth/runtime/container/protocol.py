"""The supervisor protocol, on both sides: the socket's name, the JSON line codec, stream frames.

A leaf module (it imports nothing of berth), shared by the supervisor and its
callers. The protocol is one JSON line each way, then (when attached) stream
frames: 8 bytes of header (stream id, three zero bytes, big-endian length) and
the payload, Docker's multiplexed-stream framing; an exit frame ends a stream.

``encode_line`` and ``decode`` speak that JSON through the interpreter's C
accelerator ``_json`` (what the json module itself uses): json (through re),
socket and signal each pull in enum, which together cost a short ``berth run``
more than the rest of its client side. Where ``_json`` is missing, json is used.
"""
import os
import zlib

try:
    from _json import encode_basestring_ascii as _quote
    from _json import make_scanner as _make_scanner
except ImportError:  # an interpreter without the C accelerator
    _quote = _make_scanner = None

STREAM_STDIN, STREAM_STDOUT, STREAM_STDERR, STREAM_EXIT = 0, 1, 2, 3
MSG_PEEK = 2  # <sys/socket.h>, the same on every Linux architecture


def socket_name(root):
    """Abstract unix socket (no file to go stale), one per store root.

    Named by a CRC and the tail of the root path (hashlib would load OpenSSL on
    every command, milliseconds for nothing).
    """
    path = os.path.abspath(root).encode()
    return "\0berth-supervisor-%08x-%s" % (zlib.crc32(path) & 0xFFFFFFFF,
                                            path[-60:].decode("utf-8", "replace"))


def _encode(value):
    if isinstance(value, str):
        return _quote(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return "{%s}" % ", ".join("%s: %s" % (_quote(key), _encode(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return "[%s]" % ", ".join(_encode(item) for item in value)
    import json  # floats and anything unusual: let json decide
    return json.dumps(value)


def encode_line(message):
    """``message`` as one JSON line (bytes), as json.dumps(message) + newline would give."""
    if _quote is None:
        import json
        return json.dumps(message).encode() + b"\n"
    return _encode(message).encode("ascii") + b"\n"


class _ScanContext(object):
    """The settings json.JSONDecoder hands to the C scanner: plain JSON, nothing hooked."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


_SCAN = []


def decode(data):
    """One JSON document from bytes (a reply line or an exit frame's payload)."""
    text = data.decode("utf-8").strip()
    if _make_scanner is None:
        import json
        return json.loads(text)
    if not _SCAN:
        _SCAN.append(_make_scanner(_ScanContext()))
    try:
        value, end = _SCAN[0](text, 0)
    except StopIteration:
        end = -1
    if end != len(text):
        raise ValueError("not one JSON document: %r" % text[:200])
    return value


def read_line(sock):
    """One line (bytes, newline included) off ``sock``, leaving what follows it unread;
    None if the peer closes first.

    Peeks at what has arrived and takes exactly the line: two system calls
    where reading byte by byte took one per byte.
    """
    data = b""
    while True:
        chunk = sock.recv(65536, MSG_PEEK)
        if not chunk:
            return None
        end = chunk.find(b"\n")
        if end < 0:
            data += sock.recv(len(chunk))
            continue
        return data + sock.recv(end + 1)


def read_reply(sock):
    """The supervisor's JSON reply line; any stream frames after it stay unread."""
    data = read_line(sock)
    if data is None:
        return {"ok": False, "error": "the supervisor closed the connection"}
    return decode(data)


def frame(stream, payload):
    """One stream frame: Docker's 8-byte header (stream id, 0, 0, 0, big-endian length) + payload."""
    return bytes((stream, 0, 0, 0)) + len(payload).to_bytes(4, "big") + payload


def read_frames(sock):
    """Yield (stream, payload) frames from an attached socket until the exit frame or EOF."""
    buffer = b""
    while True:
        while len(buffer) < 8:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
        stream, length = buffer[0], int.from_bytes(buffer[4:8], "big")
        while len(buffer) < 8 + length:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
        payload, buffer = buffer[8:8 + length], buffer[8 + length:]
        yield stream, payload
        if stream == STREAM_EXIT:
            return
