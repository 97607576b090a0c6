"""The v2 class on this host's unified mount (no controllers enabled here, so only the tree)."""
import binascii
import os
import time

import pytest
from berth.runtime.container import cgroups

UNIFIED = "/sys/fs/cgroup/unified"


@pytest.mark.skipif(not os.path.exists(os.path.join(UNIFIED, "cgroup.procs")),
                    reason="needs a cgroup2 mount at /sys/fs/cgroup/unified (hybrid host)")
def test_v2_create_join_list_destroy():
    parent = "berth-test-" + binascii.hexlify(os.urandom(3)).decode()
    group = cgroups.CgroupV2("c1", parent=parent, root=UNIFIED)
    try:
        group.create({"memory": 64 << 20, "pids": 10})
        assert os.path.isdir(group.path)
        # no controllers are delegated on this mount: the limit files must simply be absent
        assert group.available_controllers() == set()
        assert not os.path.exists(os.path.join(group.path, "memory.max"))
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
        for path in (group.path, os.path.join(UNIFIED, parent)):
            try:
                os.rmdir(path)
            except OSError:
                pass
