"""Inside the container: the run path in recipe order, ending in execve.

``container_main`` runs in a freshly forked, single-threaded child that is
already in the new namespaces (pid 1 of its pid namespace). It never returns:
it execs the container's command or reports the error on ``error_fd`` and
exits. Only raw syscalls and small file reads happen here: no imports that
could take a lock held by another thread of the parent, no interpreter start.
Every module the child needs is imported at the top of this file: after
pivot_root the package's files are out of reach.
"""
import array
import errno
import fcntl
import json
import os
import signal
import socket
import stat
import struct
import termios

from ...common.errors import BerthError
from .. import syscalls
from ..network import netlink
from . import caps, rootfs, seccomp
from .errors import CommandNotExecutable, CommandNotFound, ContainerError

PROC_FLAGS = syscalls.MS_NOSUID | syscalls.MS_NOEXEC | syscalls.MS_NODEV
DEV_NODES = (  # name, major, minor, mode
    ("null", 1, 3, 0o666), ("zero", 1, 5, 0o666), ("full", 1, 7, 0o666),
    ("random", 1, 8, 0o666), ("urandom", 1, 9, 0o666), ("tty", 5, 0, 0o666),
)
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
             ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))


def make_root_private():
    """Nothing mounted from here on propagates back to the host."""
    syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)


def mount_rootfs(plan):
    """Overlay of the image layers (or the vfs copy) at plan['rootfs'], bound onto itself."""
    target = plan["rootfs"]
    if plan["driver"] == "overlay2":
        data, cwd = rootfs.overlay_options(plan["lowers"], plan["upper"], plan["work"],
                                           plan.get("links_dir"))
        if cwd:
            os.chdir(cwd)
        syscalls.mount("overlay", target, "overlay", 0, data)
    else:
        syscalls.mount(target, target, None, syscalls.MS_BIND | syscalls.MS_REC)
    rootfs.check_special_dirs(target)


def _mkdir_inside(root, path, mode=0o755):
    """Create ``path`` inside ``root`` (resolved securely) and return the host path."""
    target = rootfs.secure_join(root, path)
    if not rootfs.inside(root, target):
        raise ContainerError("mount destination %s escapes the rootfs" % path)
    os.makedirs(target, mode=mode, exist_ok=True)
    return target


def mount_proc(root):
    syscalls.mount("proc", _mkdir_inside(root, "/proc"), "proc", PROC_FLAGS)


def mount_sys(root, read_only):
    flags = PROC_FLAGS | (syscalls.MS_RDONLY if read_only else 0)
    target = _mkdir_inside(root, "/sys")
    try:
        syscalls.mount("sysfs", target, "sysfs", flags)
    except OSError as exc:
        if exc.errno != errno.EPERM:  # a net namespace we do not own (--network host)
            raise
        syscalls.mount("/sys", target, None, syscalls.MS_BIND | syscalls.MS_REC)
        syscalls.mount(None, target, None, syscalls.MS_BIND | syscalls.MS_REMOUNT | flags)


def mount_dev(root, privileged):
    """tmpfs /dev with the standard nodes, devpts, shm, mqueue and the usual symlinks."""
    dev = _mkdir_inside(root, "/dev")
    syscalls.mount("tmpfs", dev, "tmpfs", syscalls.MS_NOSUID | syscalls.MS_STRICTATIME,
                   "mode=755,size=65536k")
    old_umask = os.umask(0)
    try:
        for name, major, minor, mode in DEV_NODES:
            os.mknod(os.path.join(dev, name), stat.S_IFCHR | mode, os.makedev(major, minor))
    finally:
        os.umask(old_umask)
    for name, target in DEV_LINKS:
        os.symlink(target, os.path.join(dev, name))
    os.mkdir(os.path.join(dev, "pts"), 0o755)
    syscalls.mount("devpts", os.path.join(dev, "pts"), "devpts",
                   syscalls.MS_NOSUID | syscalls.MS_NOEXEC,
                   "newinstance,ptmxmode=0666,mode=0620,gid=5")
    os.mkdir(os.path.join(dev, "shm"), 0o1777)
    syscalls.mount("shm", os.path.join(dev, "shm"), "tmpfs", PROC_FLAGS, "mode=1777,size=65536k")
    os.mkdir(os.path.join(dev, "mqueue"), 0o755)
    syscalls.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue", PROC_FLAGS)


def bind_mounts(root, mounts):
    """Volumes and the /etc files: destinations resolved inside the rootfs, never outside."""
    for mount in mounts:
        source = mount["source"]
        target = rootfs.secure_join(root, mount["destination"])
        if not rootfs.inside(root, target):
            raise ContainerError("mount destination %s escapes the rootfs" % mount["destination"])
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        elif not os.path.lexists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o644))
        # Open the destination without following a symlink raced in after the check,
        # and mount onto the /proc/self/fd path of that exact inode.
        fd = os.open(target, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            real = os.readlink("/proc/self/fd/%d" % fd)
            if not rootfs.inside(root, real):
                raise ContainerError("mount destination %s escapes the rootfs" % mount["destination"])
            via = "/proc/self/fd/%d" % fd
            syscalls.mount(source, via, None, syscalls.MS_BIND | syscalls.MS_REC)
            if mount.get("read_only"):
                # the fd still names the covered inode: remount through the new mountpoint
                syscalls.mount(None, real, None,
                               syscalls.MS_BIND | syscalls.MS_REMOUNT | syscalls.MS_RDONLY)
        finally:
            os.close(fd)


def pivot_into(root):
    """pivot_root(".", ".") then lazily detach the old root: nothing of the host stays."""
    os.chdir(root)
    syscalls.pivot_root(".", ".")
    syscalls.mount(None, ".", None, syscalls.MS_REC | syscalls.MS_SLAVE)
    syscalls.umount2(".", syscalls.MNT_DETACH)
    os.chdir("/")


def mask_paths(paths):
    """Bind /dev/null over files, an empty read-only tmpfs over directories."""
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            syscalls.mount("tmpfs", path, "tmpfs", syscalls.MS_RDONLY)
        else:
            syscalls.mount("/dev/null", path, None, syscalls.MS_BIND)


def readonly_paths(paths):
    for path in paths:
        if not os.path.exists(path):
            continue
        syscalls.mount(path, path, None, syscalls.MS_BIND | syscalls.MS_REC)
        syscalls.mount(None, path, None, syscalls.MS_BIND | syscalls.MS_REMOUNT | syscalls.MS_RDONLY
                       | syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC)


def _read_table(path):
    try:
        with open(path) as handle:
            return [line.rstrip("\n").split(":") for line in handle if line.strip()
                    and not line.startswith("#")]
    except OSError:
        return []


def resolve_user(spec):
    """'name|uid[:group|gid]' -> (uid, gid, supplementary gids, home) from the image's files."""
    user, _, group = (spec or "0").partition(":")
    passwd = _read_table("/etc/passwd")
    entry = None
    for fields in passwd:
        if len(fields) >= 7 and (fields[0] == user or fields[2] == user):
            entry = fields
            break
    if entry is None:
        if not user.isdigit():
            raise ContainerError("unable to find user %s: no matching entries in passwd file" % user)
        uid, gid, home, name = int(user), 0, "/", None
    else:
        uid, gid, home, name = int(entry[2]), int(entry[3]), entry[5] or "/", entry[0]
    groups_table = _read_table("/etc/group")
    if group:
        for fields in groups_table:
            if len(fields) >= 3 and (fields[0] == group or fields[2] == group):
                gid = int(fields[2])
                break
        else:
            if not group.isdigit():
                raise ContainerError("unable to find group %s: no matching entries in group file" % group)
            gid = int(group)
    extra = []
    if name is not None:
        for fields in groups_table:
            if len(fields) >= 4 and name in fields[3].split(",") and int(fields[2]) != gid:
                extra.append(int(fields[2]))
    return uid, gid, extra, home


def enter_working_dir(path):
    """chdir inside the new root; a dir that resolves outside it is refused (CVE-2024-21626)."""
    if not path:
        os.chdir("/")
        return
    target = rootfs.secure_join("/", path)
    os.makedirs(target, exist_ok=True)
    os.chdir(target)
    where = os.getcwd()
    if not where.startswith("/") or where.startswith("/proc"):
        raise ContainerError("working directory %s resolves outside the container" % path)


def close_inherited_fds(keep):
    """No descriptor of the runtime survives into the container: only 0-2 and ``keep``."""
    names = [int(n) for n in os.listdir("/proc/self/fd")]
    for fd in names:
        if fd > 2 and fd != keep:
            try:
                os.close(fd)
            except OSError:
                pass


def find_executable(name, env):
    if "/" in name:
        return name
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for item in env:
        if item.startswith("PATH="):
            path = item[5:]
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise CommandNotFound('exec: "%s": executable file not found in $PATH' % name)


def container_environment(plan, home):
    env = list(plan["env"])
    keys = {item.split("=", 1)[0] for item in env}
    if "PATH" not in keys:
        env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if "HOSTNAME" not in keys:
        env.append("HOSTNAME=" + plan["hostname"])
    if plan.get("tty") and "TERM" not in keys:
        env.append("TERM=xterm")
    if "HOME" not in keys:
        env.append("HOME=" + home)
    return env


def reset_signals():
    """Signals ignored by the Python parent (SIGPIPE, ...) must not stay ignored after exec."""
    for signum in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD,
                   signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, signal.SIG_DFL)
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_SETMASK, [])


def set_up_stdio(plan, stdio):
    """Own session; with a tty, the pty slave becomes the controlling terminal."""
    os.setsid()
    if plan.get("tty") and plan.get("console_fd") is None:
        fcntl.ioctl(stdio[0], termios.TIOCSCTTY, 0)
    for target, fd in enumerate(stdio):
        if fd != target:
            os.dup2(fd, target)


def send_fd(sock_fd, fd):
    """Pass ``fd`` over a unix socket (SCM_RIGHTS), as runc's --console-socket does."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, sock_fd)
    try:
        sock.sendmsg([b"M"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
    finally:
        sock.close()


def open_console(console_fd, size):
    """A pty from the container's own devpts (call after pivot_root); the master goes out.

    openpty(3) opens /dev/ptmx, which now is the container's pts/ptmx, so the
    terminal is /dev/pts/N inside the container, like Docker's.
    """
    master, slave = os.openpty()
    if size:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(slave)
    send_fd(console_fd, master)
    os.close(master)


def run_container(plan, stdio, go_fd, error_fd):
    """The recipe. Called in the forked child; raises on any failure before exec.

    The filesystem work needs nothing from the supervisor, so it runs while the
    supervisor wires the network; the go message (interface settings) is read
    only before the network is configured.
    """
    reset_signals()
    set_up_stdio(plan, stdio)
    if plan["network"] != "host":
        syscalls.sethostname(plan["hostname"])
    root = plan["rootfs"]
    make_root_private()
    mount_rootfs(plan)
    mount_proc(root)
    mount_dev(root, plan["privileged"])
    mount_sys(root, read_only=not plan["privileged"])
    bind_mounts(root, plan["mounts"])
    pivot_into(root)
    if plan.get("console_fd") is not None:
        open_console(plan["console_fd"], plan.get("tty_size"))
    if not plan["privileged"]:
        mask_paths(plan["masked_paths"])
        readonly_paths(plan["readonly_paths"])
    message = _read_message(go_fd)
    if message.get("abort"):
        os._exit(1)
    if plan["network"] == "bridge":
        netlink.configure_container_side(message["interface"])
    elif plan["network"] == "none":
        netlink.loopback_up()
    exec_process(plan, error_fd)


def exec_process(plan, keep_fd):
    """The tail both a container's pid 1 and an exec'd process end with: find the command, drop
    to the user (caps, groups, gid, uid), no_new_privs and seccomp, then execve.

    Everything that can fail on the user's input (user, working directory, command) is
    resolved before privileges go, so the error still reaches ``keep_fd``.
    """
    uid, gid, groups, home = resolve_user(plan["user"])
    env = container_environment(plan, home)
    enter_working_dir(plan["working_dir"])
    executable = find_executable(plan["argv"][0], env)
    close_inherited_fds(keep=keep_fd)
    caps.restrict_to(plan["capabilities"])
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)
    if not plan["privileged"]:
        syscalls.set_no_new_privs()
        if plan.get("seccomp"):
            seccomp.install_default(plan["capabilities"])
    try:
        os.execve(executable, plan["argv"], _env_dict(env))
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.ENOEXEC, errno.EISDIR):
            raise CommandNotExecutable('exec: "%s": permission denied' % plan["argv"][0]) from None
        if exc.errno == errno.ENOENT:
            raise CommandNotFound('exec: "%s": no such file or directory' % plan["argv"][0]) from None
        raise


def _env_dict(env):
    result = {}
    for item in env:
        key, _, value = item.partition("=")
        result[key] = value
    return result


def read_to_eof(fd):
    """Everything written to ``fd`` until its writer closes it; ``fd`` is closed afterwards."""
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _read_message(fd):
    data = read_to_eof(fd)
    return json.loads(data.decode("utf-8")) if data else {"abort": True}


def container_main(plan, stdio, go_fd, error_fd):
    """Entry of the forked child: exec, or report the error and exit with its status (Docker's:
    127 command not found, 126 not executable, 1 any other set-up failure)."""
    code = 1
    try:
        run_container(plan, stdio, go_fd, error_fd)
    except BerthError as exc:
        _report(error_fd, str(exc))
        code = exc.exit_code
    except OSError as exc:
        _report(error_fd, "%s: %s" % (exc.strerror or exc, exc.filename or ""))
    except BaseException as exc:  # the child must never return into the parent's code
        _report(error_fd, "%s: %s" % (type(exc).__name__, exc))
    os._exit(code)


def _report(fd, text):
    try:
        os.write(fd, text.encode("utf-8", "replace")[:4000])
    except OSError:
        pass
