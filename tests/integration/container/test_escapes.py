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


def test_32_raced_bind_destination_never_lands_outside(tmp_path):
    """CVE-2021-30465 class: a path component is swapped to an absolute symlink while the
    runtime mounts; 1000 rounds, every mount must land inside the rootfs (or be refused)."""
    import signal

    from berth.runtime import syscalls
    from berth.runtime.container import init
    from berth.runtime.container.errors import ContainerError

    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "shared" / "dir" / "target").mkdir(parents=True)
    (outside / "target").mkdir(parents=True)
    source = tmp_path / "source"
    source.mkdir()
    dir_path = str(root / "shared" / "dir")
    swap = str(root / "shared" / "swap")
    os.symlink(str(outside), swap)
    import ctypes
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    rename_exchange = 2
    attacker = os.fork()
    if attacker == 0:
        while True:  # atomically exchange the real directory and the symlink, forever
            libc.renameat2(-100, dir_path.encode(), -100, swap.encode(), rename_exchange)
    report_r, report_w = os.pipe()
    worker = os.fork()
    if worker == 0:
        outcome = b"ok"
        try:
            syscalls.unshare(syscalls.CLONE_NEWNS)
            syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
            redirected_prefix = str(root) + str(outside)
            mounted = redirected = refused = 0
            for _ in range(1000):
                try:
                    init.bind_mounts(str(root), [{"source": str(source),
                                                  "destination": "/shared/dir/target",
                                                  "read_only": False}])
                    mounted += 1
                except (ContainerError, OSError):
                    refused += 1
                with open("/proc/self/mounts") as handle:
                    points = [line.split()[1] for line in handle]
                if any(p.startswith(str(outside)) for p in points):
                    outcome = b"escaped"
                    break
                # the symlink was followed, but as if the rootfs were '/': confined
                redirected += any(p.startswith(redirected_prefix) for p in points)
                for point in reversed(points):
                    if point.startswith(str(root)):
                        _umount_raced(point)
            if outcome == b"ok":
                outcome = ("ok %d %d %d" % (mounted, redirected, refused)).encode()
        except BaseException as exc:
            outcome = ("error %r" % exc).encode()
        os.write(report_w, outcome)
        os._exit(0)
    os.close(report_w)
    try:
        result = os.read(report_r, 200).decode()
        os.waitpid(worker, 0)
    finally:
        os.kill(attacker, signal.SIGKILL)
        os.waitpid(attacker, 0)
        os.close(report_r)
    assert result.startswith("ok "), result
    mounted, redirected, refused = map(int, result.split()[1:])
    assert mounted + refused == 1000
    assert 0 < redirected < mounted  # the swap really raced the mounts, both ways
    assert os.listdir(str(outside / "target")) == []


def _umount_raced(point):
    """Unmount a mountpoint whose path the attacker keeps swapping: retry until it is gone."""
    from berth.runtime import syscalls
    for _ in range(10000):
        try:
            syscalls.umount2(point, syscalls.MNT_DETACH)
            return
        except OSError:
            with open("/proc/self/mounts") as handle:
                if point not in [line.split()[1] for line in handle]:
                    return
    raise AssertionError("could not unmount %s" % point)
