"""Real Debian docker-registry instances on loopback, started and stopped by the tests."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BERTH = os.path.join(REPO, "bin", "berth")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Registry(object):
    """One ``docker-registry serve`` process with its own storage directory."""

    def __init__(self, auth_yaml="", tls=None, port=None):
        self.dir = tempfile.mkdtemp(prefix="berth-reg-")
        self.port = port or free_port()
        self.host = "127.0.0.1:%d" % self.port
        tls_yaml = ""
        if tls:
            tls_yaml = "  tls:\n    certificate: %s\n    key: %s\n" % tls
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as handle:
            handle.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                         "storage:\n  filesystem:\n    rootdirectory: %s/data\n  delete:\n    enabled: true\n"
                         "http:\n  addr: %s\n%s%s" % (self.dir, self.host, tls_yaml, auth_yaml))
        self.log = open(os.path.join(self.dir, "log"), "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen([REGISTRY, "serve", config], stdout=self.log, stderr=subprocess.STDOUT)
        self.scheme = "https" if tls else "http"
        deadline = time.time() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError("docker-registry did not start: see %s/log" % self.dir)
                time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def blob_path(self, digest):
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.dir, "data/docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")


def berth(args, root, env=None, input=None, check=True, timeout=120):
    """Run ``bin/berth --root ROOT ARGS``; returns the CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.setdefault("BERTH_CONFIG", os.path.join(root, "client-config"))
    full_env["BERTH_DAEMON_CONFIG"] = os.path.join(root, "no-daemon.json")
    full_env.update(env or {})
    proc = subprocess.run([BERTH, "--root", root] + list(args), check=False, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=full_env, input=input,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError("berth %s failed (%d):\n%s\n%s" % (" ".join(args), proc.returncode, proc.stdout,
                                                                 proc.stderr))
    return proc


def http_get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status, dict(resp.headers), resp.read()
