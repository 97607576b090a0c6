"""The v2 class on this host's unified mount of a hybrid host: the tree, and the limits whose
controllers the mount offers (which depends on what claimed them for v1 since boot)."""
import binascii
import errno
import os
import stat
import time

import pytest
from berth.runtime.container import cgroups

UNIFIED = "/sys/fs/cgroup/unified"


def remove_groups(*paths):
    """Leave the mount as it was even when a test fails half-way (innermost group first)."""
    for path in paths:
        try:
            os.rmdir(path)
        except OSError:
            pass


@pytest.mark.skipif(not os.path.exists(os.path.join(UNIFIED, "cgroup.procs")),
                    reason="needs a cgroup2 mount at /sys/fs/cgroup/unified (hybrid host)")
def test_v2_create_join_list_destroy():
    parent = "berth-test-" + binascii.hexlify(os.urandom(3)).decode()
    group = cgroups.CgroupV2("c1", parent=parent, root=UNIFIED)
    try:
        offered = group.available_controllers()
        discarded = group.create({"memory": 64 << 20, "pids": 10})
        assert os.path.isdir(group.path)
        # The mount offers the controllers no v1 hierarchy has claimed (on a freshly booted
        # hybrid host often hugetlb, which berth does not use; once a systemd mounts a v1 hugetlb
        # hierarchy, none). berth enables only the ones it sets, so a limit whose controller the
        # mount does not offer has no file and is reported discarded, and one it offers is set.
        for key, controller, filename in (("memory", "memory", "memory.max"),
                                          ("pids", "pids", "pids.max")):
            has_file = os.path.exists(os.path.join(group.path, filename))
            assert has_file == (controller in offered), (key, offered)
            assert (key in discarded) == (controller not in offered), (key, offered, discarded)
        with open(os.path.join(UNIFIED, parent, "cgroup.subtree_control")) as handle:
            enabled = set(handle.read().split())
        assert enabled == offered & {"cpu", "memory", "pids", "io"}
        child = os.fork()
        if child == 0:
            time.sleep(5)
            os._exit(0)
        try:
            group.join(child)
            assert group.pids() == [child]
            with open("/proc/%d/cgroup" % child) as handle:
                assert "0::/%s/c1\n" % parent in handle.read()
        finally:
            os.kill(child, 9)
            os.waitpid(child, 0)
        assert group.destroy() is True
        assert not os.path.exists(group.path)
    finally:
        remove_groups(group.path, os.path.join(UNIFIED, parent))


@pytest.mark.skipif(not os.path.exists(os.path.join(UNIFIED, "cgroup.procs")),
                    reason="needs a cgroup2 mount at /sys/fs/cgroup/unified (hybrid host)")
def test_v2_device_program_allows_the_list_and_refuses_the_rest(tmp_path):
    """The eBPF program that stands in for devices.deny/allow, run by this kernel on the unified
    tree (v1's devices controller leaves this process at its allow-all root)."""
    parent = "berth-test-" + binascii.hexlify(os.urandom(3)).decode()
    group = cgroups.CgroupV2("c1", parent=parent, root=UNIFIED)
    block = str(tmp_path / "loop0")
    os.mknod(block, 0o600 | stat.S_IFBLK, os.makedev(7, 0))
    checks = (("/dev/null", os.O_RDWR), ("/dev/zero", os.O_RDONLY), ("/dev/kmsg", os.O_RDONLY),
              (block, os.O_RDONLY))
    try:
        group.create({})
        reader, writer = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(reader)
            group.join(0)
            results = []
            for path, flags in checks:
                try:
                    os.close(os.open(path, flags))
                    results.append("ok")
                except OSError as exc:
                    results.append(errno.errorcode[exc.errno])
            try:
                os.mknod(str(tmp_path / "made"), 0o600 | stat.S_IFBLK, os.makedev(7, 0))
                results.append("ok")
            except OSError as exc:
                results.append(errno.errorcode[exc.errno])
            os.write(writer, " ".join(results).encode())
            os._exit(0)
        os.close(writer)
        with os.fdopen(reader) as handle:
            seen = handle.read().split()
        os.waitpid(child, 0)
        # /dev/null and /dev/zero are listed; /dev/kmsg (c 1:11) and block devices are not
        assert seen == ["ok", "ok", "EPERM", "EPERM", "EPERM"]
        assert group.destroy() is True
    finally:
        remove_groups(group.path, os.path.join(UNIFIED, parent))

