"""Escape classes of reliability-anchors.md section 6, items 27-36, one test each.

27 (default caps, seccomp, no_new_privs) is test_run.py::test_run_rm_shows_isolation
and 35 (fork bomb) is test_limits.py::test_fork_bomb_stops_at_pids_limit; the others
are here.
"""
import io
import os
import tarfile


def make_tar(path, members):
    """members: (name, kind, payload) with kind file|dir|symlink|hardlink."""
    with tarfile.open(path, "w") as archive:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
                archive.addfile(info)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = payload
                archive.addfile(info)
            else:
                data = payload.encode()
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path


def base_members(image_tar):
    """Every member of the busybox test image, to build variants of it."""
    out = []
    with tarfile.open(image_tar) as archive:
        for info in archive.getmembers():
            out.append(info)
    return out


def variant_tar(image_tar, path, extra, drop=()):
    with tarfile.open(image_tar) as source, tarfile.open(path, "w") as target:
        for info in source.getmembers():
            if info.name.lstrip("./") in drop:
                continue
            target.addfile(info, source.extractfile(info) if info.isfile() else None)
        for name, kind, payload in extra:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
                target.addfile(info)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                target.addfile(info)
            else:
                data = payload.encode()
                info.size = len(data)
                info.mode = 0o644
                target.addfile(info, io.BytesIO(data))
    return path


def test_28_masked_and_readonly_proc_paths(env, image):
    out = env.berth("run", "--rm", "--network", "none", image, "sh", "-c",
                    "for f in /proc/keys /proc/timer_list /proc/interrupts; do "
                    "  echo $f=$(wc -c < $f); done; "
                    "echo firmware=$(ls /sys/firmware | wc -l); "
                    "sh -c 'echo 1 > /proc/sys/kernel/domainname' 2>&1 || echo sys-write-refused; "
                    "umount /proc/keys 2>&1 || echo umount-refused").stdout.splitlines()
    assert out[:4] == ["/proc/keys=0", "/proc/timer_list=0", "/proc/interrupts=0", "firmware=0"]
    assert "Read-only file system" in out[4]
    assert "sys-write-refused" in out
    assert any("Operation not permitted" in line or "Permission denied" in line for line in out[5:])
    assert out[-1] == "umount-refused"


def test_29_symlinked_proc_sys_dev_are_refused(env, image_tar, rootfs_factory, tmp_path):
    evil = variant_tar(image_tar, str(tmp_path / "evil.tar"), [("proc", "symlink", "/")],
                       drop=("proc",))
    env.berth("import", evil, "evil:proc")
    result = env.berth("run", "--rm", "--network", "none", "evil:proc", "true", check=False)
    assert result.returncode == 125
    assert "/proc in the image is a symlink" in result.stderr
    for name in ("sys", "dev"):
        tree = rootfs_factory("evil-" + name)
        os.rmdir(os.path.join(tree, name))
        os.symlink("/", os.path.join(tree, name))
        result = env.berth("run", "--rm", "--network", "none", "dir:" + tree, "true", check=False)
        assert result.returncode == 125
        assert "/%s in the image is a symlink" % name in result.stderr
    assert env.berth("ps", "-aq").stdout == ""


def test_30_layer_escapes_are_confined(env, tmp_path):
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "victim").write_text("untouched\n")
    attempts = [
        ("traversal.tar", [("../../../../../../../../%s/traversal" % str(canary).strip("/"),
                            "file", "x")]),
        ("absolute.tar", [(str(canary / "absolute"), "file", "x")]),
        ("through-symlink.tar", [("link", "symlink", str(canary)), ("link/pwned", "file", "x")]),
        ("hardlink.tar", [("hl", "hardlink", "../../../../../../../../%s/victim"
                           % str(canary).strip("/"))]),
        ("whiteout.tar", [("dne/../.wh.victim", "file", "")]),
    ]
    for name, members in attempts:
        path = make_tar(str(tmp_path / name), members)
        env.berth("import", path, "evil:" + name.split(".")[0], check=False)
    assert sorted(os.listdir(str(canary))) == ["victim"]
    assert (canary / "victim").read_text() == "untouched\n"


def test_31_legitimate_absolute_symlink_resolves_inside(env, image_tar, tmp_path):
    tar = variant_tar(image_tar, str(tmp_path / "tz.tar"), [
        ("usr", "dir", None), ("usr/share", "dir", None), ("usr/share/zoneinfo", "dir", None),
        ("usr/share/zoneinfo/UTC", "file", "TZif-test\n"),
        ("etc/localtime", "symlink", "/usr/share/zoneinfo/UTC")])
    env.berth("import", tar, "tz:test")
    out = env.berth("run", "--rm", "--network", "none", "tz:test", "sh", "-c",
                    "readlink /etc/localtime; cat /etc/localtime").stdout
    assert out == "/usr/share/zoneinfo/UTC\nTZif-test\n"


def test_32_bind_destination_symlink_is_confined(env, image_tar, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    source = tmp_path / "source"
    source.mkdir()
    (source / "payload").write_text("bound\n")
    tar = variant_tar(image_tar, str(tmp_path / "link.tar"), [
        ("mnt", "dir", None), ("mnt/abs", "symlink", str(outside)),
        ("mnt/rel", "symlink", "../../../../../../../.." + str(outside))])
    env.berth("import", tar, "links:test")
    out = env.berth("run", "--rm", "--network", "none", "-v", "%s:/mnt/abs/sub" % source,
                    "-v", "%s:/mnt/rel/sub2" % source, "links:test", "sh", "-c",
                    "cat /mnt/abs/sub/payload /mnt/rel/sub2/payload; ls -d %s/sub %s/sub2"
                    % (outside, outside)).stdout
    assert out == "bound\nbound\n%s/sub\n%s/sub2\n" % (outside, outside)
    assert os.listdir(str(outside)) == []  # landed inside the rootfs, not on the host
    with open("/proc/self/mounts") as handle:
        assert str(outside) not in handle.read()


def test_33_working_dir_and_fd_leaks(env, image):
    refused = env.berth("run", "--rm", "--network", "none", "-w", "/proc/self/fd/3", image, "true",
                        check=False)
    assert refused.returncode == 125
    assert "lies in /proc" in refused.stderr
    escaped = env.berth("run", "--rm", "--network", "none", "-w", "/../../../tmp/x", image,
                        "pwd").stdout
    assert escaped == "/tmp/x\n"
    env.berth("run", "-d", "--name", "fds", "--network", "none", image, "sleep", "300")
    assert env.berth("exec", "fds", "ls", "/proc/1/fd").stdout.split() == ["0", "1", "2"]
    # exec'd processes get pipes, not the caller's descriptors
    assert env.berth("exec", "fds", "sh", "-c", "ls /proc/$$/fd; true").stdout.split() == ["0", "1", "2"]
    links = env.berth("exec", "fds", "sh", "-c", "ls -l /proc/$$/fd/1 /proc/$$/fd/2; true").stdout
    assert [line.split("-> ")[1].split(":")[0] for line in links.splitlines()] == ["pipe", "pipe"]


def test_34_runtime_executable_is_out_of_reach(env, image):
    env.berth("run", "-d", "--name", "exe", "--network", "none", image, "sleep", "300")
    out = env.berth("exec", "exe", "sh", "-c",
                    "for p in /proc/[0-9]*; do readlink $p/exe; done | sort -u; "
                    "echo x >> /proc/1/exe 2>/dev/null && echo wrote || echo refused").stdout
    assert out == "/bin/busybox\nrefused\n"


def test_36_block_devices_are_denied(env, image):
    out = env.berth("run", "--rm", "--network", "none", image, "sh", "-c",
                    "{ mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda; } 2>&1; echo rc=$?").stdout
    assert "Operation not permitted" in out
    assert out.endswith("rc=1\n")
