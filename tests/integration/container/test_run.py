"""The run path on the real kernel: isolation, copy-on-write, user/env/cwd, refusals."""
import os
import socket

DOCKER_DEFAULT_CAPS = "00000000a80425fb"


def status_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("%s missing in %r" % (name, text))


def test_run_rm_shows_isolation(env, image):
    out = env.berth("run", "--rm", "--network", "none", image,
                    "sh", "-c", "hostname; echo pid=$$; id; cat /proc/self/status").stdout
    lines = out.splitlines()
    assert len(lines[0]) == 12 and lines[0] != socket.gethostname()
    assert lines[1] == "pid=1"
    assert lines[2] == "uid=0(root) gid=0(root)"
    assert status_field(out, "CapEff") == DOCKER_DEFAULT_CAPS
    assert status_field(out, "CapPrm") == DOCKER_DEFAULT_CAPS
    assert status_field(out, "CapBnd") == DOCKER_DEFAULT_CAPS
    assert status_field(out, "CapInh") == "0000000000000000"
    assert status_field(out, "CapAmb") == "0000000000000000"
    assert status_field(out, "NoNewPrivs") == "1"
    assert status_field(out, "Seccomp") == "2"
    assert env.berth("ps", "-aq").stdout == ""


def test_exit_code_and_command_errors(env, image):
    assert env.berth("run", "--rm", "--network", "none", image, "sh", "-c", "exit 3",
                     check=False).returncode == 3
    missing = env.berth("run", "--rm", "--network", "none", image, "nosuchcmd", check=False)
    assert missing.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in missing.stderr


def test_user_env_workdir_hostname(env, image):
    out = env.berth("run", "--rm", "--network", "none", "-u", "user", "-e", "GREETING=hi",
                    "-w", "/home/user/work", "--hostname", "box", image,
                    "sh", "-c", "id; echo $GREETING; pwd; hostname; cat /etc/hostname; "
                    "grep CapEff /proc/self/status").stdout.splitlines()
    assert out == ["uid=1000(user) gid=1000(user) groups=2000(extra)", "hi", "/home/user/work",
                   "box", "box", "CapEff:\t0000000000000000"]
    numeric = env.berth("run", "--rm", "--network", "none", "-u", "4242:4343", image,
                        "id").stdout
    assert numeric == "uid=4242 gid=4343\n"


def test_mounts_inside(env, image):
    out = env.berth("run", "--rm", "--network", "none", image, "sh", "-c",
                    "cat /proc/mounts; ls /dev").stdout
    mounts = {line.split()[1]: line.split() for line in out.splitlines() if line.count(" ") >= 5}
    assert mounts["/"][2] == "overlay"
    assert mounts["/proc"][2] == "proc"
    assert mounts["/sys"][3].startswith("ro,")
    assert mounts["/dev"][2] == "tmpfs"
    assert mounts["/dev/pts"][2] == "devpts"
    assert mounts["/dev/shm"][2] == "tmpfs"
    assert mounts["/dev/mqueue"][2] == "mqueue"
    assert mounts["/proc/sys"][3].startswith("ro,")
    if os.path.exists("/proc/sysrq-trigger"):  # this kernel may be built without magic sysrq
        assert mounts["/proc/sysrq-trigger"][3].startswith("ro,")
    devices = out.split("\n")
    for node in ("null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "fd"):
        assert node in devices


def layer_dirs(env, image):
    from berth.runtime.image.store import Store
    store = Store(env.root)
    return store.layer_dirs(store.resolve(image))


def test_copy_on_write_between_containers(env, image, digest):
    layers = layer_dirs(env, image)
    before = [digest(layer) for layer in layers]
    assert len(before[0]) > 40
    env.berth("run", "--name", "writer", "--network", "none", image, "sh", "-c",
              "echo changed > /etc/motd; rm /bin/wc; touch /new-file")
    reader = env.berth("run", "--rm", "--network", "none", image, "sh", "-c",
                       "cat /etc/motd; ls /bin/wc; ls /new-file 2>&1 || true").stdout
    assert reader.splitlines()[:2] == ["original", "/bin/wc"]
    assert "No such file" in reader
    assert [digest(layer) for layer in layers] == before
    assert env.inspect("writer")["GraphDriver"]["Data"]["LowerDirs"] == layers
    upper = env.inspect("writer")["GraphDriver"]["Data"]["UpperDir"]
    with open(os.path.join(upper, "etc", "motd")) as handle:
        assert handle.read() == "changed\n"
    assert os.path.exists(os.path.join(upper, "new-file"))
    again = env.berth("start", "-a", "writer").stdout
    assert again == ""
    assert env.inspect("writer")["State"]["ExitCode"] == 0


def test_vfs_driver_is_chosen_and_reported(env, image):
    env.env["BERTH_STORAGE_DRIVER"] = "vfs"
    result = env.berth("run", "--name", "copy", "--network", "none", image,
                       "sh", "-c", "cat /proc/mounts | grep ' / '; echo x > /etc/motd")
    assert "WARNING: storage driver vfs" in result.stderr
    assert " overlay " not in result.stdout
    assert env.inspect("copy")["GraphDriver"]["Name"] == "vfs"
    with open(os.path.join(layer_dirs(env, image)[0], "etc", "motd")) as handle:
        assert handle.read() == "original\n"


def test_symlinked_proc_in_image_is_refused(env, rootfs_factory):
    evil = rootfs_factory("evil")
    os.rmdir(os.path.join(evil, "proc"))
    os.symlink("/", os.path.join(evil, "proc"))
    result = env.berth("run", "--rm", "--network", "none", "dir:" + evil, "true", check=False)
    assert result.returncode == 125
    assert "/proc in the image is a symlink" in result.stderr
    assert env.berth("ps", "-aq").stdout == ""
