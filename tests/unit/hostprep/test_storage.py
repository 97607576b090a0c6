import os

import pytest
from berth.hostprep import preflight, storage

from .helpers import fixture


def test_proc_filesystems_el7_lacks_overlay_until_loaded():
    names = storage.parse_proc_filesystems(fixture("proc-filesystems-el7"))
    assert "overlay" not in names
    assert names[-1] == "xfs"
    assert "selinuxfs" in names


def test_proc_filesystems_debian12_has_overlay():
    assert "overlay" in storage.parse_proc_filesystems(fixture("proc-filesystems-debian12"))


def test_overlay_support_states():
    el7 = fixture("proc-filesystems-el7")
    dep = "kernel/fs/overlayfs/overlay.ko.xz:\nkernel/fs/xfs/xfs.ko.xz: kernel/lib/libcrc32c.ko.xz\n"
    assert preflight.overlay_support(el7, dep, "") == "module"
    assert preflight.overlay_support(el7, "kernel/fs/xfs/xfs.ko.xz:\n", "") == "absent"
    assert preflight.overlay_support(el7, "", "kernel/fs/overlayfs/overlay.ko\n") == "module"
    assert preflight.overlay_support(fixture("proc-filesystems-debian12"), None, None) == "loaded"


@pytest.mark.parametrize("name, ftype", [("xfs-info-ftype0", 0), ("xfs-info-ftype1", 1)])
def test_xfs_ftype(name, ftype):
    assert storage.parse_xfs_ftype(fixture(name)) == ftype


def test_xfs_ftype_absent():
    assert storage.parse_xfs_ftype("meta-data=/dev/sda1 isize=256\n") is None


@pytest.mark.parametrize(
    "fstype, ftype, expected",
    [("xfs", 0, False), ("xfs", 1, True), ("xfs", None, None), ("ext4", None, True),
     ("btrfs", None, True), ("nfs", None, None)],
)
def test_d_type_supported(fstype, ftype, expected):
    assert storage.d_type_supported(fstype, ftype) is expected


def test_mount_for_picks_longest_prefix():
    mounts = storage.parse_mountinfo(fixture("mountinfo-el7"))
    assert storage.mount_for("/var/lib/docker", mounts) == {
        "mount_point": "/var/lib/docker", "fstype": "xfs", "source": "/dev/mapper/centos-docker"}
    assert storage.mount_for("/var/lib/dockerx", mounts)["mount_point"] == "/"
    assert storage.mount_for("/boot/grub2", mounts)["source"] == "/dev/sda1"


def test_nearest_existing(tmp_path):
    (tmp_path / "var" / "lib").mkdir(parents=True)
    assert storage.nearest_existing(str(tmp_path / "var/lib/docker/overlay2")) == str(tmp_path / "var/lib")
    assert storage.nearest_existing(str(tmp_path / "var")) == str(tmp_path / "var")


def test_probe_data_root_on_this_machine():
    # the real mount table of the machine running the tests: the answer must agree with os.stat
    result = preflight.probe_data_root(lambda argv: (127, "", ""), "/nonexistent-berth/docker")
    assert result["probed_path"] == "/"
    assert result["mount_point"] == "/"
    assert os.path.ismount(result["mount_point"])
