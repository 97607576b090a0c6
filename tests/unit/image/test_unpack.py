"""Layer unpacking: overlay translation, metadata, and one test per breakout attack.

Every attack test puts a canary file outside the layer root and checks it is
untouched (same content) and that nothing new appeared next to it.
"""
import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile

import pytest
from berth.runtime.image.errors import UnpackError
from berth.runtime.image.unpack import decompressed, unpack

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts, chown and mknod need root")


def member(name, kind=tarfile.REGTYPE, data=b"", linkname="", mode=0o644, uid=0, gid=0, **extra):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid = uid
    info.gid = gid
    info.mtime = 1700000000
    info.linkname = linkname
    for key, value in extra.items():
        setattr(info, key, value)
    if kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
        info.size = len(data)
    return info, data


def make_tar(members, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def chunked(data, size=7000):
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.fixture
def sandbox(tmp_path):
    """A layer root plus an ``outside`` directory holding a canary."""
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    canary = outside / "canary"
    canary.write_bytes(b"untouched")

    def check():
        assert canary.read_bytes() == b"untouched"
        assert sorted(os.listdir(str(outside))) == ["canary"]
        assert sorted(os.listdir(str(tmp_path))) == ["outside", "root"]
    return root, outside, canary, check


def test_regular_tree_with_metadata(tmp_path):
    data = make_tar([
        member("etc", tarfile.DIRTYPE, mode=0o755),
        member("etc/hostname", data=b"berth\n", mode=0o640),
        member("usr/bin/tool", data=b"#!/bin/sh\n", mode=0o4755),
    ])
    unpack(chunked(data), str(tmp_path))
    assert (tmp_path / "etc/hostname").read_bytes() == b"berth\n"
    assert stat.S_IMODE(os.lstat(str(tmp_path / "etc/hostname")).st_mode) == 0o640
    assert stat.S_IMODE(os.lstat(str(tmp_path / "usr/bin/tool")).st_mode) == 0o4755
    assert stat.S_IMODE(os.lstat(str(tmp_path / "etc")).st_mode) == 0o755
    assert os.lstat(str(tmp_path / "etc/hostname")).st_mtime == 1700000000


def test_whole_stream_is_consumed_including_padding(tmp_path):
    data = make_tar([member("a", data=b"x" * 700)]) + b"\0" * 10240
    consumed = []

    def counting():
        for chunk in chunked(data, 999):
            consumed.append(len(chunk))
            yield chunk
    unpack(counting(), str(tmp_path))
    assert sum(consumed) == len(data)


def test_long_names_pax_and_gnu(tmp_path):
    long_dir = "d" * 120
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        root = tmp_path / str(fmt)
        root.mkdir()
        unpack([make_tar([member(long_dir + "/" + "f" * 150, data=b"long"),
                          member("link", tarfile.SYMTYPE, linkname="/" + "t" * 200)], fmt)], str(root))
        assert (root / long_dir / ("f" * 150)).read_bytes() == b"long"
        assert os.readlink(str(root / "link")) == "/" + "t" * 200


def test_gzip_and_plain_streams_decode_the_same():
    data = make_tar([member("a", data=b"hello")])
    packed = gzip.compress(data)
    assert b"".join(decompressed(chunked(packed, 10))) == data
    assert b"".join(decompressed(chunked(data, 10))) == data


def test_zstd_layer_gives_a_clear_error_without_a_decoder(monkeypatch):
    try:
        from compression import zstd  # noqa: F401
        pytest.skip("this Python has a stdlib zstd decoder")
    except ImportError:
        pass
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UnpackError) as info:
        list(decompressed([b"\x28\xb5\x2f\xfd" + b"\0" * 20]))
    assert "layer is zstd-compressed" in str(info.value)
    assert "install zstd" in str(info.value)


@pytest.mark.skipif(not shutil.which("zstd"), reason="needs the zstd program (Debian package zstd)")
def test_zstd_layer_decodes_through_the_zstd_program():
    data = make_tar([member("a", data=os.urandom(300000))])
    packed = subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout
    assert b"".join(decompressed(chunked(packed, 5000))) == data
    with pytest.raises(UnpackError) as info:
        list(decompressed([packed[:len(packed) // 2]]))
    assert "zstd could not decode the layer" in str(info.value)


def test_truncated_gzip_is_an_error():
    packed = gzip.compress(make_tar([member("a", data=os.urandom(5000))]))
    with pytest.raises(UnpackError) as info:
        list(decompressed([packed[:len(packed) // 2]]))
    assert "truncated" in str(info.value)


@ROOT_ONLY
def test_ownership_devices_fifos_xattrs(tmp_path):
    data = make_tar([
        member("owned", data=b"x", uid=1234, gid=2345),
        member("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
        member("fifo", tarfile.FIFOTYPE, mode=0o600),
        member("ping", data=b"elf", pax_headers={"SCHILY.xattr.user.berth": "yes"}),
    ])
    unpack([data], str(tmp_path))
    st = os.lstat(str(tmp_path / "owned"))
    assert (st.st_uid, st.st_gid) == (1234, 2345)
    dev = os.lstat(str(tmp_path / "dev/null"))
    assert stat.S_ISCHR(dev.st_mode) and (os.major(dev.st_rdev), os.minor(dev.st_rdev)) == (1, 3)
    assert stat.S_ISFIFO(os.lstat(str(tmp_path / "fifo")).st_mode)
    assert os.getxattr(str(tmp_path / "ping"), "user.berth") == b"yes"


def test_hardlinks_share_an_inode(tmp_path):
    unpack([make_tar([member("bin/a", data=b"same"), member("bin/b", tarfile.LNKTYPE, linkname="bin/a")])],
           str(tmp_path))
    assert os.lstat(str(tmp_path / "bin/a")).st_ino == os.lstat(str(tmp_path / "bin/b")).st_ino


@ROOT_ONLY
def test_whiteouts_become_overlay_whiteouts(tmp_path):
    unpack([make_tar([
        member("etc", tarfile.DIRTYPE, mode=0o755),
        member("etc/.wh.passwd"),
        member("var/cache/.wh..wh..opq"),
        member("var/cache/kept", data=b"k"),
        member(".wh..wh.plnk"),
    ])], str(tmp_path))
    whiteout = os.lstat(str(tmp_path / "etc/passwd"))
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == os.makedev(0, 0)
    assert (whiteout.st_uid, whiteout.st_gid) == (0, 0)
    assert os.getxattr(str(tmp_path / "var/cache"), "trusted.overlay.opaque") == b"y"
    assert (tmp_path / "var/cache/kept").read_bytes() == b"k"
    assert sorted(os.listdir(str(tmp_path))) == ["etc", "var"]
    assert sorted(os.listdir(str(tmp_path / "etc"))) == ["passwd"]


def test_later_entry_replaces_earlier_one(tmp_path):
    unpack([make_tar([member("x", data=b"old"), member("x", tarfile.SYMTYPE, linkname="y"),
                      member("x", data=b"new")])], str(tmp_path))
    assert (tmp_path / "x").read_bytes() == b"new"
    assert not os.path.islink(str(tmp_path / "x"))


def test_legitimate_absolute_symlink_is_kept(sandbox):
    root, _outside, _canary, check = sandbox
    unpack([make_tar([member("etc/localtime", tarfile.SYMTYPE, linkname="/usr/share/zoneinfo/UTC"),
                      member("usr/share/zoneinfo/UTC", data=b"TZif")])], str(root))
    assert os.readlink(str(root / "etc/localtime")) == "/usr/share/zoneinfo/UTC"
    check()


# -- one test per breakout attack -------------------------------------------

def test_attack_dotdot_entry_is_refused(sandbox):
    root, _outside, _canary, check = sandbox
    with pytest.raises(UnpackError) as info:
        unpack([make_tar([member("../outside/canary", data=b"pwned")])], str(root))
    assert "escapes the layer root" in str(info.value)
    with pytest.raises(UnpackError):
        unpack([make_tar([member("a/../../outside/evil", data=b"pwned")])], str(root))
    check()


def test_attack_absolute_path_lands_inside(sandbox):
    root, _outside, canary, check = sandbox
    unpack([make_tar([member(str(canary), data=b"pwned")])], str(root))
    assert (root / str(canary).lstrip("/")).read_bytes() == b"pwned"
    check()


@pytest.mark.parametrize("target_kind", ["relative", "absolute"])
def test_attack_symlink_then_write_through(sandbox, target_kind):
    root, outside, _canary, check = sandbox
    target = "../outside" if target_kind == "relative" else str(outside)
    unpack([make_tar([member("loophole", tarfile.SYMTYPE, linkname=target),
                      member("loophole/canary", data=b"pwned"),
                      member("loophole/new", data=b"pwned")])], str(root))
    inner = root / ("outside" if target_kind == "relative" else str(outside).lstrip("/"))
    assert (inner / "canary").read_bytes() == b"pwned"
    assert os.readlink(str(root / "loophole")) == target
    check()


def test_attack_symlink_chain_and_dotdot_through_symlink(sandbox):
    root, outside, _canary, check = sandbox
    unpack([make_tar([member("a", tarfile.SYMTYPE, linkname="b/../../../.."),
                      member("b", tarfile.DIRTYPE, mode=0o755),
                      member("a" + str(outside) + "/canary", data=b"pwned")])], str(root))
    assert (root / str(outside).lstrip("/") / "canary").read_bytes() == b"pwned"
    check()


def test_attack_hardlink_to_outside(sandbox):
    root, outside, canary, check = sandbox
    with pytest.raises(UnpackError) as info:
        unpack([make_tar([member("hl", tarfile.LNKTYPE, linkname="../outside/canary")])], str(root))
    assert "escapes the layer root" in str(info.value)
    with pytest.raises(UnpackError) as info:
        unpack([make_tar([member("hl2", tarfile.LNKTYPE, linkname=str(canary))])], str(root))
    assert "not in the layer" in str(info.value)
    with pytest.raises(UnpackError):
        unpack([make_tar([member("sym", tarfile.SYMTYPE, linkname=str(outside)),
                          member("hl3", tarfile.LNKTYPE, linkname="sym/canary")])], str(root))
    check()
    assert os.lstat(str(canary)).st_nlink == 1


def test_attack_hardlink_to_symlink_then_write_through(sandbox):
    root, outside, _canary, check = sandbox
    unpack([make_tar([member("sym", tarfile.SYMTYPE, linkname=str(outside)),
                      member("hl", tarfile.LNKTYPE, linkname="sym"),
                      member("hl/canary", data=b"pwned")])], str(root))
    assert (root / str(outside).lstrip("/") / "canary").read_bytes() == b"pwned"
    check()


@ROOT_ONLY
def test_attack_whiteout_through_symlink(sandbox):
    root, outside, _canary, check = sandbox
    unpack([make_tar([member("sym", tarfile.SYMTYPE, linkname=str(outside)),
                      member("sym/.wh.canary"),
                      member("rel", tarfile.SYMTYPE, linkname="../outside"),
                      member("rel/.wh..wh..opq")])], str(root))
    inner = os.lstat(str(root / str(outside).lstrip("/") / "canary"))
    assert stat.S_ISCHR(inner.st_mode)
    assert os.getxattr(str(root / "outside"), "trusted.overlay.opaque") == b"y"
    with pytest.raises(OSError):
        os.getxattr(str(outside), "trusted.overlay.opaque")
    check()


@pytest.mark.parametrize("name", [".wh...", "dir/.wh...", ".wh.", ".wh.."])
def test_attack_whiteout_naming_dotdot_is_refused(sandbox, name):
    root, _outside, _canary, check = sandbox
    with pytest.raises(UnpackError) as info:
        unpack([make_tar([member(name)])], str(root))
    assert "invalid whiteout name" in str(info.value)
    check()


@ROOT_ONLY
def test_attack_whiteout_relative_path_is_cleaned(sandbox):
    root, _outside, _canary, check = sandbox
    unpack([make_tar([member("dne/../.wh.etc")])], str(root))
    assert stat.S_ISCHR(os.lstat(str(root / "etc")).st_mode)
    check()


def test_symlink_loop_is_an_error_not_a_hang(sandbox):
    root, _outside, _canary, check = sandbox
    with pytest.raises(UnpackError) as info:
        unpack([make_tar([member("a", tarfile.SYMTYPE, linkname="b"), member("b", tarfile.SYMTYPE, linkname="a"),
                          member("a/x", data=b"1")])], str(root))
    assert "too many levels" in str(info.value)
    check()


def test_diff_of_gnu_tar_output_matches_sha256(tmp_path):
    import subprocess
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d/f").write_bytes(b"content")
    os.symlink("d/f", str(src / "l"))
    raw = subprocess.check_output(["tar", "-C", str(src), "-cf", "-", "."])
    seen = hashlib.sha256()

    def hashed():
        for chunk in chunked(raw, 4096):
            seen.update(chunk)
            yield chunk
    dest = tmp_path / "dest"
    dest.mkdir()
    unpack(hashed(), str(dest))
    assert seen.hexdigest() == hashlib.sha256(raw).hexdigest()
    assert (dest / "d/f").read_bytes() == b"content"
    assert os.readlink(str(dest / "l")) == "d/f"
