"""Fixtures for container integration tests: a busybox rootfs, a private store root,
bridge, subnet and cgroup parent per test, and a teardown that removes every
container, the bridge, its iptables rules and cgroups even when the test fails."""
import binascii
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "module_utils")
BERTH = os.path.join(os.path.dirname(MODULE_UTILS), "bin", "berth")
BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "true", "false", "id", "hostname", "cat", "sleep", "ls", "echo", "ps", "grep",
           "mount", "umount", "wc", "head", "env", "pwd", "touch", "mkdir", "rm", "stat", "nc",
           "wget", "ip", "dd", "yes", "seq", "printf", "kill", "mknod", "chmod", "ln", "readlink",
           "sha256sum", "tail", "sed", "timeout", "httpd", "dmesg", "tr", "cut", "tty", "stty")


def make_rootfs(path):
    for name in ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/user"):
        os.makedirs(os.path.join(path, name), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for applet in APPLETS:
        os.symlink("busybox", os.path.join(path, "bin", applet))
    with open(os.path.join(path, "etc", "passwd"), "w") as handle:
        handle.write("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"
                     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    with open(os.path.join(path, "etc", "group"), "w") as handle:
        handle.write("root:x:0:\nuser:x:1000:\nextra:x:2000:user\nnogroup:x:65534:\n")
    with open(os.path.join(path, "etc", "motd"), "w") as handle:
        handle.write("original\n")
    return path


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory):
    if not os.path.exists(BUSYBOX):
        pytest.skip("needs Debian's busybox-static (/bin/busybox) to build a test image")
    return make_rootfs(str(tmp_path_factory.mktemp("busybox") / "rootfs"))


def tree_digest(path):
    """(relative path, mode, size, content digest or link target) for every entry."""
    import hashlib
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if os.path.islink(full):
                extra = os.readlink(full)
            elif os.path.isfile(full):
                with open(full, "rb") as handle:
                    extra = hashlib.sha256(handle.read()).hexdigest()
            else:
                extra = ""
            out.append((os.path.relpath(full, path), st.st_mode, st.st_size, extra))
    return sorted(out)


def our_rules(chain, bridge):
    rules = []
    for table in ("filter", "nat"):
        text = subprocess.check_output(["iptables", "-w", "-t", table, "-S"], universal_newlines=True)
        rules += [(table, r) for r in text.splitlines() if chain in r or bridge in r]
    return rules


class Env(object):
    def __init__(self, root, bridge, bip, cgroup_parent):
        self.root = root
        self.bridge = bridge
        self.bip = bip
        self.cgroup_parent = cgroup_parent
        self.env = dict(os.environ, BERTH_ROOT=root, BERTH_BRIDGE=bridge, BERTH_BIP=bip,
                        BERTH_CGROUP_PARENT=cgroup_parent, BERTH_SUPERVISOR_IDLE="3")

    def command(self, *args):
        # BERTH_TEST_PYTHON runs the CLI (and so the supervisor it forks) under another
        # interpreter, e.g. a Python 3.6 like CentOS 7's
        return [os.environ.get("BERTH_TEST_PYTHON") or sys.executable, BERTH] + [str(a) for a in args]

    def berth(self, *args, **kwargs):
        check = kwargs.pop("check", True)
        timeout = kwargs.pop("timeout", 60)
        result = subprocess.run(self.command(*args), env=self.env, stdout=subprocess.PIPE, check=False,
                                stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout,
                                **kwargs)
        if check and result.returncode != 0:
            raise AssertionError("berth %s failed (%d): %s%s" % (
                " ".join(map(str, args)), result.returncode, result.stdout, result.stderr))
        return result

    def inspect(self, ref):
        return json.loads(self.berth("inspect", ref).stdout)[0]

    def supervisor_pid(self):
        sys.path.insert(0, MODULE_UTILS)
        from berth.runtime.container import client
        sock = client.connect(self.root, start=False)
        if sock is None:
            return None
        with sock:
            sock.sendall(b'{"op": "ping"}\n')
            return json.loads(sock.makefile().readline())["pid"]

    def cgroup_dirs(self):
        found = []
        for controller in ("memory", "pids", "cpu", "cpuacct", "devices", "freezer", "blkio", "cpuset"):
            base = os.path.join("/sys/fs/cgroup", controller, self.cgroup_parent)
            if os.path.isdir(base):
                found += [os.path.join(base, d) for d in os.listdir(base)
                          if os.path.isdir(os.path.join(base, d))]
        return found


@pytest.fixture(scope="session")
def image_tar(rootfs, tmp_path_factory):
    import tarfile
    path = str(tmp_path_factory.mktemp("busybox-tar") / "busybox.tar")
    with tarfile.open(path, "w") as archive:
        archive.add(rootfs, arcname=".")
    return path


@pytest.fixture
def image(env, image_tar):
    """busybox:test imported into the test's store with `berth import` (a real image)."""
    env.berth("import", "-c", 'CMD ["sh"]', image_tar, "busybox:test")
    return "busybox:test"


@pytest.fixture
def env(tmp_path):
    tag = binascii.hexlify(os.urandom(3)).decode()
    root = str(tmp_path / "store")
    os.makedirs(root)
    third = int(tag[:2], 16) % 200 + 20
    environment = Env(root, "bt" + tag, "10.%d.%d.1/24" % (97, third), "berth-test-" + tag)
    try:
        yield environment
    finally:
        _teardown(environment)


def _teardown(environment):
    sys.path.insert(0, MODULE_UTILS)
    from berth.runtime.container import state as state_mod
    from berth.runtime.network.bridge import BridgeNetwork
    from berth.runtime.network.iptables import chain_name
    ids = state_mod.ContainerStore(environment.root).ids()
    for cid in ids:
        environment.berth("rm", "-f", cid, check=False)
    pid = environment.supervisor_pid()
    if pid:
        os.kill(pid, 15)
        for _ in range(300):
            if not os.path.exists("/proc/%d" % pid):
                break
            time.sleep(0.01)
    # a container orphaned by a test that killed its supervisor
    for cid in ids:
        record_path = os.path.join(environment.root, "containers", cid, "config.v2.json")
        if os.path.exists(record_path):
            with open(record_path) as handle:
                pid = json.load(handle)["State"].get("Pid")
            if pid:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
    deadline = time.time() + 3
    while environment.cgroup_dirs() and time.time() < deadline:
        time.sleep(0.05)
    cgroups_left = environment.cgroup_dirs()
    BridgeNetwork(environment.root, environment.bridge, environment.bip).teardown()
    for path in environment.cgroup_dirs():
        for _ in range(100):
            try:
                os.rmdir(path)
                break
            except OSError:
                time.sleep(0.02)
    for controller in ("memory", "pids", "cpu", "cpuacct", "devices", "freezer", "blkio", "cpuset"):
        try:
            os.rmdir(os.path.join("/sys/fs/cgroup", controller, environment.cgroup_parent))
        except OSError:
            pass
    leftover = our_rules(chain_name(environment.bridge), environment.bridge)
    assert leftover == [], "iptables rules left behind: %r" % leftover
    assert cgroups_left == [], "container cgroups left behind: %r" % cgroups_left


@pytest.fixture
def digest():
    return tree_digest


@pytest.fixture
def rootfs_factory(tmp_path):
    return lambda name: make_rootfs(str(tmp_path / name))

