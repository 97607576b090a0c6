"""Overlay options, secure path resolution and the vfs copy."""
import os
import stat

import pytest
from berth.runtime.container import rootfs
from berth.runtime.container.errors import ContainerError


def test_overlay_lowerdir_is_top_first():
    data, cwd = rootfs.overlay_options(["/l/base", "/l/mid", "/l/top"], "/c/upper", "/c/work")
    assert data == "lowerdir=/l/top:/l/mid:/l/base,upperdir=/c/upper,workdir=/c/work"
    assert cwd is None


def test_long_chains_use_short_links(tmp_path):
    layers = [str(tmp_path / ("layer-%03d-%s" % (i, "x" * 60))) for i in range(80)]
    data, cwd = rootfs.overlay_options(layers, "/c/upper", "/c/work", str(tmp_path / "l"))
    assert cwd == str(tmp_path / "l")
    assert len(data) <= rootfs.PAGE_LIMIT
    first = data[len("lowerdir="):].split(":")[0]
    assert os.readlink(os.path.join(cwd, first)) == layers[-1]


def test_too_long_without_links_is_refused():
    with pytest.raises(ContainerError):
        rootfs.overlay_options(["/" + "y" * 200] * 30, "/u", "/w")


def test_secure_join_keeps_symlinks_inside(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", str(root / "abs"))
    os.symlink("../../../../..", str(root / "up"))
    assert rootfs.secure_join(str(root), "/abs/passwd") == str(root / "etc" / "passwd")
    assert rootfs.secure_join(str(root), "/up/etc") == str(root / "etc")
    assert rootfs.secure_join(str(root), "/../../x") == str(root / "x")


def test_check_special_dirs_refuses_symlinked_proc(tmp_path):
    os.symlink("/", str(tmp_path / "proc"))
    with pytest.raises(ContainerError) as info:
        rootfs.check_special_dirs(str(tmp_path))
    assert "/proc in the image is a symlink" in str(info.value)


def test_copy_layers_applies_whiteouts(tmp_path):
    base, top, out = tmp_path / "base", tmp_path / "top", tmp_path / "out"
    (base / "etc").mkdir(parents=True)
    (base / "etc" / "gone").write_text("x")
    (base / "etc" / "kept").write_text("old")
    (top / "etc").mkdir(parents=True)
    os.mknod(str(top / "etc" / "gone"), stat.S_IFCHR | 0o600, 0)
    (top / "etc" / "kept").write_text("new")
    rootfs.copy_layers([str(base), str(top)], str(out))
    assert sorted(os.listdir(str(out / "etc"))) == ["kept"]
    assert (out / "etc" / "kept").read_text() == "new"
