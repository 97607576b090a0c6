"""The supervisor protocol: JSON lines without the json module, reading exactly one reply line
off a real socket pair, and stream frames."""
import json
import socket
import subprocess
import sys

import pytest
from berth.runtime.container import protocol

MESSAGES = [
    {"op": "run", "image": "busybox:test", "attach": True, "stdin": False, "tty_size": None,
     "options": {"name": None, "env": ["A=1", "QUOTE=\"x\"", "NL=a\nb", "TAB=\t", "U=\u00e9\u2603"],
                 "labels": {}, "memory": 67108864, "cmd": ["sh", "-c", "echo \\ $HOME"], "rm": True,
                 "publish": [], "pids_limit": -1, "big": 2 ** 70}},
    {}, [], "", 0, -1, None, True, False, [[], {"k": [None]}],
]


@pytest.mark.parametrize("message", MESSAGES)
def test_encode_line_is_what_json_writes(message):
    assert protocol.encode_line(message) == json.dumps(message).encode() + b"\n"


@pytest.mark.parametrize("message", MESSAGES)
def test_decode_reads_what_json_writes(message):
    assert protocol.decode(json.dumps(message).encode()) == message
    assert protocol.decode((json.dumps(message, indent=2) + "\n").encode()) == message


def test_decode_floats_and_escapes():
    assert protocol.decode(b'{"f": 1.5, "e": 1e3, "u": "\\u00e9", "n": -0}') == {
        "f": 1.5, "e": 1000.0, "u": "\u00e9", "n": 0}


def test_encode_falls_back_to_json_for_other_values():
    assert protocol.encode_line({"cpus": 0.5, 1: "x"}) == json.dumps({"cpus": 0.5, 1: "x"}).encode() + b"\n"


@pytest.mark.parametrize("text", [b"", b"{", b"nope", b'{"a": 1} trailing', b'{"a": 1}{"b": 2}'])
def test_decode_refuses_what_is_not_one_document(text):
    with pytest.raises(ValueError):
        protocol.decode(text)


def test_read_reply_takes_the_line_and_leaves_the_frames():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b'{"ok": true, "id": "abc"}\n\x03\x00\x00\x00\x00\x00\x00\x0b{"exit": 0}')
        assert protocol.read_reply(ours) == {"ok": True, "id": "abc"}
        assert ours.recv(100) == b'\x03\x00\x00\x00\x00\x00\x00\x0b{"exit": 0}'


def test_read_reply_joins_a_line_that_arrives_in_pieces():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b'{"ok": tr')
        child = subprocess.Popen([sys.executable, "-c", "import os, time; time.sleep(0.2); "
                                  "os.write(%d, b'ue}\\nrest')" % theirs.fileno()],
                                 pass_fds=[theirs.fileno()])
        try:
            assert protocol.read_reply(ours) == {"ok": True}
            assert ours.recv(100) == b"rest"
        finally:
            child.wait()


def test_read_reply_reports_a_closed_connection():
    ours, theirs = socket.socketpair()
    with ours:
        theirs.sendall(b'{"ok": tr')
        theirs.close()
        assert protocol.read_reply(ours) == {"ok": False, "error": "the supervisor closed the connection"}


def test_run_path_imports_no_json_re_socket_or_signal(tmp_path):
    """`berth run` parses its flags and talks to the supervisor with the interpreter's
    start-up modules only: json, re, socket or signal would each pull in enum and more."""
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from berth.cli import main, run\n"
            "from berth.runtime.container import client, options, protocol\n"
            "values, image, command = options.parse_cli('run', ['--rm', '-e', 'A=1', '-m', '64m', '-p', '80', "
            "'--restart', 'no', '--cpus', '1', '-w', '/w', 'img', 'true'])\n"
            "options.to_body(values, image, command, {})\n"
            "protocol.encode_line({'op': 'run'}); protocol.decode(b'{\"ok\": true}')\n"
            "print(' '.join(sorted(m for m in ('json', 're', 'socket', 'signal', 'enum') if m in sys.modules)))"
            % protocol.__file__.rsplit("/berth/", 1)[0])
    out = subprocess.check_output([sys.executable, "-I", "-S", "-c", code], universal_newlines=True)
    assert out.strip() == ""


def test_frames_round_trip_over_a_socket():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(protocol.frame(protocol.STREAM_STDOUT, b"out") + protocol.frame(protocol.STREAM_STDERR, b"")
                       + protocol.frame(protocol.STREAM_EXIT, b'{"exit": 3}') + protocol.frame(1, b"never"))
        assert list(protocol.read_frames(ours)) == [(1, b"out"), (2, b""), (3, b'{"exit": 3}')]
        theirs.close()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(protocol.frame(protocol.STREAM_STDOUT, b"cut")[:5])
        theirs.close()
        assert list(protocol.read_frames(ours)) == []  # a frame cut short by EOF is not yielded
