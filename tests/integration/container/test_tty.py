"""-it with a real pty: run, detach keys, attach, exec -t."""
import os
import pty
import select
import subprocess
import termios
import time


class Terminal(object):
    """The CLI running on the slave side of a pty we hold the master of."""

    def __init__(self, env, *args):
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(env.command(*args), env=env.env, stdin=slave, stdout=slave,
                                        stderr=slave, close_fds=True)
        os.close(slave)
        self.output = b""

    def read_until(self, marker, timeout=20):
        deadline = time.time() + timeout
        while marker not in self.output:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise AssertionError("%r not seen in %r" % (marker, self.output))
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError("terminal closed before %r: %r" % (marker, self.output))
                self.output += chunk
        return self.output

    def wait_raw(self, timeout=20):
        """Wait until the CLI has put the terminal in raw mode (it is relaying from then on)."""
        deadline = time.time() + timeout
        while termios.tcgetattr(self.master)[3] & termios.ECHO:
            if time.time() > deadline or self.process.poll() is not None:
                raise AssertionError("the terminal never went raw: %r" % self.output)
            time.sleep(0.02)

    def send(self, data):
        os.write(self.master, data)

    def wait(self, timeout=20):
        deadline = time.time() + timeout
        while self.process.poll() is None and time.time() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 4096)
                except OSError:
                    pass
        code = self.process.wait(timeout=1)
        os.close(self.master)
        return code


def test_run_it_gives_a_real_terminal_and_exit_stops_it(env, image):
    term = Terminal(env, "run", "-it", "--name", "shell", "--network", "none", image, "sh")
    term.read_until(b"# ")
    term.send(b"tty; echo co''ls=$(stty size | cut -d' ' -f2)\r")
    term.read_until(b"cols=")
    term.read_until(b"\r\n/ # ")
    assert b"\r\n/dev/pts/0\r\n" in term.output
    term.send(b"exit 5\r")
    assert term.wait() == 5
    assert env.inspect("shell")["State"]["ExitCode"] == 5


def test_detach_keys_and_attach(env, image):
    term = Terminal(env, "run", "-it", "--name", "detachable", "--network", "none", image, "sh")
    term.read_until(b"# ")
    term.send(b"echo before-detach\r")
    term.read_until(b"before-detach\r\n")
    term.send(b"\x10\x11")
    assert term.wait() == 0
    assert env.inspect("detachable")["State"]["Status"] == "running"
    again = Terminal(env, "attach", "detachable")
    again.wait_raw()
    again.send(b"echo after-attach\r")
    again.read_until(b"\r\nafter-attach\r\n")
    again.send(b"exit\r")
    assert again.wait() == 0
    assert env.inspect("detachable")["State"]["Status"] == "exited"


def test_exec_it(env, image):
    env.berth("run", "-d", "--name", "host", "--network", "none", image, "sleep", "300")
    term = Terminal(env, "exec", "-it", "host", "sh")
    term.read_until(b"# ")
    term.send(b"tty; echo p''id=$$\r")
    term.read_until(b"pid=")
    term.read_until(b"\r\n/ # ")
    term.send(b"exit 3\r")
    assert term.wait() == 3
    assert b"\r\n/dev/pts/0\r\n" in term.output  # sleep, pid 1, holds no terminal
    assert env.inspect("host")["State"]["Status"] == "running"
