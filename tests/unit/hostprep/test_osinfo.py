import pytest
from berth.hostprep import cgroup, kernel, osinfo

from .helpers import fixture


@pytest.mark.parametrize(
    "name, expected",
    [
        ("os-release-centos7", {"id": "centos", "version": "7", "major_version": "7", "family": "RedHat",
                                "pretty_name": "CentOS Linux 7 (Core)", "codename": ""}),
        ("os-release-rocky9", {"id": "rocky", "version": "9.3", "major_version": "9", "family": "RedHat",
                               "pretty_name": "Rocky Linux 9.3 (Blue Onyx)", "codename": ""}),
        ("os-release-debian12", {"id": "debian", "version": "12", "major_version": "12", "family": "Debian",
                                 "pretty_name": "Debian GNU/Linux 12 (bookworm)", "codename": "bookworm"}),
        ("os-release-ubuntu2204", {"id": "ubuntu", "version": "22.04", "major_version": "22",
                                   "family": "Debian", "pretty_name": "Ubuntu 22.04.4 LTS", "codename": "jammy"}),
    ],
)
def test_distribution_summary_from_real_os_release(name, expected):
    assert osinfo.distribution_summary(osinfo.parse_os_release(fixture(name))) == expected


def test_os_release_unquotes_and_skips_comments():
    parsed = osinfo.parse_os_release('# comment\nID="centos"\nID_LIKE="rhel fedora"\nBROKEN\nX=\'a b\'\n')
    assert parsed == {"ID": "centos", "ID_LIKE": "rhel fedora", "X": "a b"}


def test_unknown_distribution_has_no_family():
    assert osinfo.os_family({"ID": "alpine"}) is None
    assert osinfo.os_family({"ID": "linuxmint", "ID_LIKE": "ubuntu debian"}) == "Debian"


@pytest.mark.parametrize(
    "available, expected",
    [(["dnf", "yum"], "dnf"), (["yum"], "yum"), (["apt-get"], "apt"), ([], None)],
)
def test_select_package_manager_prefers_dnf(available, expected):
    assert osinfo.select_package_manager(available) == expected


def test_init_system():
    assert osinfo.init_system("systemd\n", True) == "systemd"
    assert osinfo.init_system("init\n", False) == "init"
    assert osinfo.init_system(None, False) == "unknown"


@pytest.mark.parametrize(
    "release, parsed, meets",
    [
        ("3.10.0-1160.el7.x86_64", (3, 10, 0), True),
        ("2.6.32-754.35.1.el6.x86_64", (2, 6, 32), False),
        ("6.1.0-18-amd64", (6, 1, 0), True),
        ("5.15.0-105-generic", (5, 15, 0), True),
        ("3.9", (3, 9, 0), False),
    ],
)
def test_kernel_release_and_minimum(release, parsed, meets):
    assert kernel.parse_kernel_release(release) == parsed
    assert kernel.kernel_meets_minimum(release, "3.10") is meets


def test_kernel_minimum_with_patch_level():
    assert kernel.kernel_meets_minimum("3.10.0-1160.el7.x86_64", "3.10.1") is False
    assert kernel.parse_minimum("4") == (4, 0, 0)


@pytest.mark.parametrize("bad", ["", "x.y", "3.10-rc1", "3..10"])
def test_kernel_minimum_rejects_garbage(bad):
    with pytest.raises(ValueError):
        kernel.parse_minimum(bad)


def test_kernel_release_rejects_garbage():
    with pytest.raises(ValueError):
        kernel.parse_kernel_release("Linux")


@pytest.mark.parametrize(
    "name, version", [("mounts-el7", 1), ("mounts-debian12", 2), ("mounts-ubuntu-hybrid", 1)]
)
def test_cgroup_version(name, version):
    assert cgroup.cgroup_version(fixture(name)) == version


def test_cgroup_version_none_without_cgroups():
    assert cgroup.cgroup_version("proc /proc proc rw 0 0\n") is None


def test_mounts_unescape_spaces():
    rows = cgroup.parse_mounts("/dev/sdb1 /mnt/my\\040disk ext4 rw 0 0\n")
    assert rows == [("/dev/sdb1", "/mnt/my disk", "ext4", "rw")]
