"""A real reboot: berth and its systemd unit on a lab host, the host restarted, the container back.

The lab host (Debian 12, systemd as pid 1) gets bin/ and module_utils/ of this checkout in
/opt/berth, a busybox image and contrib/systemd/berth.service (enabled). Restarting the host's
container is a reboot for everything in it: systemd boots again and every process, the
supervisor and the containers included, is gone. The kernel (and so the boot id) is the
machine's, so this exercises the killed-supervisor path of the restore, through the unit.
"""
import importlib.util
import json
import os
import subprocess
import tarfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

BERTH = "/opt/berth/bin/berth"


def ssh_argv(lab, host):
    index = int(host[len(lab.name):])
    return ["ssh", "-i", "/var/lib/berth-lab/%s/id_ed25519" % lab.name, "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=5", "root@" + lab.address(index)]


def send(lab, host, path, command):
    """Feed a local file to ``command`` on the host."""
    with open(path, "rb") as handle:
        subprocess.run(ssh_argv(lab, host) + [command], stdin=handle, check=True, timeout=300)


def make_rootfs(path):
    """The container integration tests' busybox rootfs (their conftest builds it)."""
    where = os.path.join(ROOT, "tests", "integration", "container", "conftest.py")
    spec = importlib.util.spec_from_file_location("container_test_images", where)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_rootfs(path)


def wait_for(predicate, timeout=180, interval=1.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met within %ss" % timeout)


def record(lab, host, name):
    """The container record read from disk, without a berth command (which would restore too)."""
    script = ("import json,os; base='/var/lib/berth/containers'; "
              "cid=os.readlink(os.path.join(base,'names','%s')); "
              "print(open(os.path.join(base,cid,'config.v2.json')).read())" % name)
    return json.loads(lab.ssh(host, "python3 -c \"%s\"" % script).stdout)


@pytest.fixture(scope="module")
def boot_lab(lab_factory):
    if not os.path.exists("/bin/busybox"):
        pytest.skip("needs Debian's busybox-static (/bin/busybox) to build the test image")
    return lab_factory("bboot", 1, "172.28.243.0/24")


def test_unit_restarts_an_always_container_after_a_reboot(boot_lab, tmp_path):
    lab, host = boot_lab, boot_lab.hosts[0]
    code = str(tmp_path / "berth.tar")
    with tarfile.open(code, "w") as archive:
        for name in ("bin", "module_utils", "contrib"):
            archive.add(os.path.join(ROOT, name), arcname=name,
                        filter=lambda info: None if "__pycache__" in info.name else info)
    send(lab, host, code, "mkdir -p /opt/berth && tar -C /opt/berth -xf -")
    image = str(tmp_path / "busybox.tar")
    with tarfile.open(image, "w") as archive:
        archive.add(make_rootfs(str(tmp_path / "rootfs")), arcname=".")
    send(lab, host, image, "cat > /root/busybox.tar")
    lab.ssh(host, "%s import -c 'CMD [\"sh\"]' /root/busybox.tar busybox:test" % BERTH)
    lab.ssh(host, "sed 's#^ExecStart=.*#ExecStart=%s system boot#' /opt/berth/contrib/systemd/berth.service "
                  "> /etc/systemd/system/berth.service && systemctl daemon-reload && systemctl enable berth"
            % BERTH)
    for name, policy in (("keeper", "always"), ("once", "no")):
        lab.ssh(host, "%s run -d --name %s --network none --restart %s busybox:test sleep 1000"
                % (BERTH, name, policy))
    before = record(lab, host, "keeper")["State"]["Pid"]
    assert before > 0

    subprocess.run(["docker", "restart", "-t", "10", "berth-%s" % host], check=True, timeout=120)
    wait_for(lambda: lab.ssh(host, "systemctl is-active berth", check=False).stdout.strip() == "active")

    keeper = record(lab, host, "keeper")  # restarted by the unit, before any berth command ran
    assert keeper["State"]["Running"] and keeper["State"]["Pid"] not in (0, before)
    once = record(lab, host, "once")["State"]
    assert (once["Running"], once["ExitCode"]) == (False, 255)
    journal = lab.ssh(host, "journalctl -b -u berth --no-pager -o cat").stdout
    assert "keeper" in journal.split()
    ps = lab.ssh(host, "%s ps -a --format '{{.Names}} {{.State}}'" % BERTH).stdout
    assert sorted(ps.split("\n")[:-1]) == ["keeper running", "once exited"]
    cmdline = lab.ssh(host, "%s exec keeper cat /proc/1/cmdline" % BERTH).stdout
    assert cmdline == "sleep\x001000\x00"
