"""One supervising process per store root: holds every container's pid 1.

Design (why not one monitor process per container, as conmon/containerd-shim do):
a Python process costs 8-10 MB RSS and 5+ MB PSS on its own, above Docker's
2.9 MB PSS per containerd-shim, and starting an interpreter per container costs
12-40 ms, more than the whole start budget. So the supervisor is *forked* (not
exec'd) from the first berth command that needs it, double-forked into its own
session, and stays as a single-threaded select loop that:

* is a child subreaper, so every container pid 1 is its child: it reaps them,
  records exit code, time and OOM kills in the container record;
* forks each container itself, straight into a new pid namespace (see
  ``_fork_container``), so a ``run`` costs one fork of a warm process and no
  new interpreter;
* reads the containers' stdout/stderr (pipes or a pty master) into JSON-lines
  logs and relays them to attached clients;
* applies restart policies, removes ``--rm`` containers, frees their network
  and cgroups.

Measured with bench/container_run.py: 100 idle containers cost this one process
about 10 MB PSS in all (0.1 MB per container) against 2.7 MB PSS per
containerd-shim. The per-container cost is a few fds and a small dict. The
CLI and Ansible modules talk to it over an abstract unix socket (only peers
with uid 0 are served), named after the store root, so any number of roots
(tests) can coexist. It exits by itself after ``IDLE_SECONDS`` with no
container running and no client connected. If it is killed, containers keep
running as orphans; ``state.ContainerStore.refresh`` reports them truthfully
and a new supervisor picks up their records when they are started again.
"""
import errno
import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import termios
import time

from .. import syscalls
from . import cgroups, init, logs, spec, state
from .client import STREAM_EXIT, STREAM_STDERR, STREAM_STDOUT, socket_name
from .errors import ContainerError

IDLE_SECONDS = float(os.environ.get("BERTH_SUPERVISOR_IDLE", "30"))
SPAWN_TIMEOUT = 60


def frame(stream, payload):
    return struct.pack(">BxxxI", stream, len(payload)) + payload


def exit_code_of(status):
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return 255


def namespace_flags(network):
    flags = syscalls.CLONE_NEWNS | syscalls.CLONE_NEWUTS | syscalls.CLONE_NEWIPC | syscalls.CLONE_NEWPID
    if network != "host":
        flags |= syscalls.CLONE_NEWNET
    if os.path.exists("/proc/self/ns/cgroup"):
        flags |= syscalls.CLONE_NEWCGROUP
    return flags


def host_resolv_conf():
    """The host's resolv.conf without loopback resolvers (unreachable from a netns)."""
    try:
        with open("/etc/resolv.conf") as handle:
            lines = handle.read().splitlines()
    except OSError:
        lines = []
    kept = [line for line in lines if not (line.split()[:1] == ["nameserver"] and
                                           line.split()[1:2] and
                                           line.split()[1].startswith(("127.", "::1")))]
    if not any(line.startswith("nameserver") for line in kept):
        kept += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(kept) + "\n"


class Running(object):
    """What the supervisor holds for one live container."""

    def __init__(self, container_id):
        self.id = container_id
        self.pid = 0
        self.outputs = {}     # fd -> stream name
        self.stdin_fd = None
        self.tty = False
        self.log = None
        self.clients = []     # attached sockets
        self.waiters = []
        self.cgroup = None
        self.network = None
        self.network_obj = None
        self.bindings = []
        self.started = 0.0
        self.console = None
        self.warnings = []    # limits the host could not hold (Docker's words)


class Supervisor(object):
    def __init__(self, root, listener, network_factory):
        self.root = os.path.abspath(root)
        self.store = state.ContainerStore(self.root)
        self.listener = listener
        self.network_factory = network_factory
        self.selector = selectors.DefaultSelector()
        self.running = {}          # id -> Running
        self.by_pid = {}           # pid -> Running
        self.clients = {}          # socket -> dict(buffer, target)
        self.timers = []           # (when, callable)
        self.last_activity = time.time()
        self.stop_requested = False
        self.manager = None
        try:
            self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.own_pid_ns = None

    # -- loop --------------------------------------------------------------
    def serve(self):
        syscalls.set_child_subreaper()
        wake_r, wake_w = os.pipe()
        for fd in (wake_r, wake_w):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *a: None)
        signal.signal(signal.SIGTERM, lambda *a: setattr(self, "stop_requested", True))
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.selector.register(wake_r, selectors.EVENT_READ, ("wake", None))
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, ("accept", None))
        self.prepare_seccomp()
        self.adopt_orphans()
        while True:
            timeout = self._timeout()
            for key, _ in self.selector.select(timeout):
                kind, data = key.data
                if kind == "wake":
                    try:
                        os.read(wake_r, 4096)
                    except OSError:
                        pass
                elif kind == "accept":
                    self._accept()
                elif kind == "client":
                    self._client_readable(key.fileobj)
                elif kind == "output":
                    self._output(data, key.fd)
            self._reap()
            self._run_timers()
            if self.running or self.clients or self.timers:
                self.last_activity = time.time()
            elif self.stop_requested or time.time() - self.last_activity > IDLE_SECONDS:
                state.write_supervisor_record(self.root, os.getpid(), clean=True)
                return

    def _timeout(self):
        now = time.time()
        if self.timers:
            return max(0.0, min(when for when, _ in self.timers) - now)
        return 1.0

    def _run_timers(self):
        now = time.time()
        due = [t for t in self.timers if t[0] <= now]
        self.timers = [t for t in self.timers if t[0] > now]
        for _, action in due:
            action()

    @staticmethod
    def prepare_seccomp():
        """Build the default containers' seccomp program here, once: forked children inherit it."""
        from . import caps, seccomp
        seccomp.prepare(caps.mask_of(spec.DEFAULT_CAPABILITIES) & caps.bounding_mask())

    def adopt_orphans(self):
        """What dockerd does at its start (daemon.restore), for this store root.

        Records left 'running' whose process is gone, or that were written in an
        earlier boot, become exited with 255 (as dockerd marks a container it
        finds dead) and their cgroups, address and ports are freed; --rm ones are
        removed. When this start follows a reboot or a supervisor that died (not
        one that exited idle), restart policies apply as at dockerd's start:
        ``always``; ``unless-stopped`` unless the user stopped it; ``on-failure``
        after a non-zero exit with retries left. A root whose old supervisor
        predates supervisor.json gets the same for the containers found dead.
        """
        restore_due = state.supervisor_restore_due(self.root)
        records, found_dead = [], set()
        for record in self.store.all():
            refreshed = self.store.refresh(record)
            if record["State"].get("Running") and not refreshed["State"]["Running"]:
                found_dead.add(record["Id"])
            records.append(refreshed)
        state.write_supervisor_record(self.root, os.getpid(), clean=False)
        if not restore_due and not found_dead:
            return
        from . import manager
        if self.manager is None:
            self.manager = manager.Manager(self.root)
        for record in records:
            cid = record["Id"]
            if cid in found_dead or record.get("Berth", {}).get("NeedsCleanup"):
                try:
                    record = self.manager.get(cid)  # frees what the dead container held
                except ContainerError:
                    continue
                if record["HostConfig"].get("AutoRemove"):
                    manager.remove_files(self.store, record, volumes=True)
                    continue
            if (restore_due or cid in found_dead) and self._should_restart_at_start(record):
                self._restart(cid, at_start=True)

    # -- clients -----------------------------------------------------------
    def _accept(self):
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, _ = struct.unpack("3i", creds)
        if uid != 0:
            conn.close()
            return
        conn.setblocking(True)
        conn.settimeout(10)
        self.clients[conn] = {"buffer": b"", "target": None}
        self.selector.register(conn, selectors.EVENT_READ, ("client", None))

    def _drop_client(self, conn):
        info = self.clients.pop(conn, None)
        try:
            self.selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        if info and info.get("target") is not None:
            running = info["target"]
            if conn in running.clients:
                running.clients.remove(conn)
            if info.get("stdin") and running.stdin_fd is not None and not running.tty:
                self._close_stdin(running)
        conn.close()

    def _client_readable(self, conn):
        info = self.clients.get(conn)
        if info is None:  # dropped earlier in this round of events: a send to it failed
            return
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if info["target"] is not None:
            running = info["target"]
            if not data:
                if info.get("stdin") and not running.tty:
                    self._close_stdin(running)
                    info["stdin"] = False
                self.selector.unregister(conn)
                self.clients[conn]["half_closed"] = True
                return
            if info.get("stdin") and running.stdin_fd is not None:
                try:
                    os.write(running.stdin_fd, data)
                except OSError:
                    pass
            return
        if not data:
            self._drop_client(conn)
            return
        info["buffer"] += data
        if b"\n" not in info["buffer"]:
            return
        line, rest = info["buffer"].split(b"\n", 1)
        info["buffer"] = rest
        try:
            request = json.loads(line.decode("utf-8"))
            self._handle(conn, request, rest)
        except Exception as exc:  # a bad request must not take the supervisor down
            self._reply(conn, {"ok": False, "error": str(exc)})
            self._drop_client(conn)

    def _reply(self, conn, message):
        try:
            conn.sendall(json.dumps(message).encode() + b"\n")
        except OSError:
            pass

    def _handle(self, conn, request, rest):
        op = request.get("op")
        if op == "ping":
            self._reply(conn, {"ok": True, "pid": os.getpid(), "containers": len(self.running)})
            self._drop_client(conn)
        elif op == "start":
            record = self.store.load(request["id"])
            if record["Id"] in self.running:
                raise ContainerError("container %s is already running" % record["Id"][:12])
            running = self.spawn(record, request.get("tty_size"))
            self._reply(conn, {"ok": True, "pid": running.pid})
            if request.get("attach"):
                self._attach(conn, running, request.get("stdin"), rest)
            else:
                self._drop_client(conn)
        elif op == "run":
            self._run(conn, request, rest)
        elif op == "attach":
            running = self.running.get(request["id"])
            if running is None:
                raise ContainerError("You cannot attach to a stopped container, start it first")
            self._reply(conn, {"ok": True, "pid": running.pid})
            self._attach(conn, running, request.get("stdin"), rest)
        elif op == "wait":
            running = self.running.get(request["id"])
            if running is None:
                record = self.store.refresh(self.store.load(request["id"]))
                self._reply(conn, {"ok": True, "exit": record["State"]["ExitCode"]})
                self._drop_client(conn)
            else:
                self._reply(conn, {"ok": True, "waiting": True})
                running.waiters.append(conn)
                self.clients[conn]["target"] = running
        elif op == "resize":
            running = self.running.get(request["id"])
            if running is not None and running.tty:
                self._set_winsize(running.stdin_fd, request["rows"], request["cols"])
            self._reply(conn, {"ok": True})
            self._drop_client(conn)
        elif op == "shutdown":
            self.stop_requested = True
            self._reply(conn, {"ok": True})
            self._drop_client(conn)
        else:
            raise ContainerError("unknown request %r" % op)

    def _run(self, conn, request, rest):
        """create + start for `berth run`: the image store is warm in this process."""
        from . import manager
        if self.manager is None:
            self.manager = manager.Manager(self.root)
        try:
            record, reason = self.manager.create(request["image"], request["options"])
        except spec.SpecError as exc:
            self._reply(conn, {"ok": False, "error": str(exc), "spec_error": True})
            self._drop_client(conn)
            return
        try:
            running = self.spawn(record, request.get("tty_size"))
        except Exception as exc:
            if record["HostConfig"].get("AutoRemove"):
                manager.remove_files(self.store, self.store.load(record["Id"]), volumes=True)
            self._reply(conn, {"ok": False, "error": str(exc), "id": record["Id"], "warning": reason})
            self._drop_client(conn)
            return
        self._reply(conn, {"ok": True, "id": record["Id"], "pid": running.pid, "warning": reason,
                           "warnings": running.warnings})
        if request.get("attach"):
            self._attach(conn, running, request.get("stdin"), rest)
        else:
            self._drop_client(conn)

    def _attach(self, conn, running, want_stdin, rest):
        info = self.clients[conn]
        info["target"] = running
        info["stdin"] = bool(want_stdin)
        running.clients.append(conn)
        if rest and want_stdin and running.stdin_fd is not None:
            os.write(running.stdin_fd, rest)

    def _close_stdin(self, running):
        if running.stdin_fd is not None and not running.tty:
            try:
                os.close(running.stdin_fd)
            except OSError:
                pass
            running.stdin_fd = None

    @staticmethod
    def _set_winsize(fd, rows, cols):
        try:
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        except OSError:
            pass

    # -- output ------------------------------------------------------------
    def _output(self, running, fd):
        try:
            data = os.read(fd, 65536)
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                return
            data = b""  # EIO on a pty master once the slave side is gone
        if not data:
            self._close_output(running, fd)
            return
        self._deliver(running, running.outputs[fd], data)

    def _deliver(self, running, stream, data):
        if running.log is not None:
            running.log.feed(stream, data)
        payload = frame(STREAM_STDOUT if stream == "stdout" else STREAM_STDERR, data)
        for conn in list(running.clients):
            try:
                conn.sendall(payload)
            except OSError:
                self._drop_client(conn)

    def _close_output(self, running, fd):
        try:
            self.selector.unregister(fd)
        except (KeyError, ValueError):
            pass
        running.outputs.pop(fd, None)
        if running.tty and fd == running.stdin_fd:
            running.stdin_fd = None
        os.close(fd)

    def _drain(self, running):
        for fd in list(running.outputs):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
            while fd in running.outputs:
                try:
                    data = os.read(fd, 65536)
                except OSError as exc:
                    if exc.errno == errno.EAGAIN:
                        self._close_output(running, fd)
                        break
                    data = b""
                if not data:
                    self._close_output(running, fd)
                    break
                self._deliver(running, running.outputs[fd], data)

    # -- spawning ----------------------------------------------------------
    def plan_for(self, record):
        """The dict container_main follows, from the record (paths, mounts, caps, user, env)."""
        host_config = record["HostConfig"]
        config = record["Config"]
        data = record["GraphDriver"]["Data"]
        network = host_config["NetworkMode"]
        network = "bridge" if network in ("default", "bridge") else network
        privileged = host_config.get("Privileged", False)
        from . import caps
        cap_mask = caps.bounding_mask() if privileged else (
            caps.mask_of(spec.DEFAULT_CAPABILITIES) & caps.bounding_mask())
        mounts = [{"source": m["Source"], "destination": m["Destination"], "read_only": not m["RW"]}
                  for m in record.get("Mounts", [])]
        etc = {"hostname": "/etc/hostname", "hosts": "/etc/hosts", "resolv.conf": "/etc/resolv.conf"}
        for name, destination in sorted(etc.items()):
            mounts.append({"source": self.store.path(record["Id"], name), "destination": destination,
                           "read_only": False})
        return {
            "id": record["Id"],
            "driver": record["GraphDriver"]["Name"],
            "lowers": data.get("LowerDirs", []),
            "upper": data.get("UpperDir"),
            "work": data.get("WorkDir"),
            "rootfs": data["MergedDir"],
            "links_dir": os.path.join(self.root, "l"),
            "network": network,
            "hostname": config["Hostname"],
            "privileged": privileged,
            "capabilities": cap_mask,
            "masked_paths": list(spec.MASKED_PATHS),
            "readonly_paths": list(spec.READONLY_PATHS),
            "mounts": mounts,
            "user": config.get("User") or "0",
            "working_dir": config.get("WorkingDir") or "",
            "env": config.get("Env") or [],
            "argv": [record["Path"]] + list(record["Args"]),
            "tty": config.get("Tty", False),
            "seccomp": not privileged,
        }

    def write_etc_files(self, record, interface):
        hostname = record["Config"]["Hostname"]
        cid = record["Id"]
        network = record["HostConfig"]["NetworkMode"]
        def atomic_write(path, data):
            state.replace_file(path, data, mode=0o644)
        if network == "host":
            for name in ("hostname", "hosts", "resolv.conf"):
                try:
                    with open("/etc/" + name) as handle:
                        atomic_write(self.store.path(cid, name), handle.read())
                except OSError:
                    atomic_write(self.store.path(cid, name), "")
            return
        hosts = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                 "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes",
                 "ff02::2\tip6-allrouters"]
        if interface:
            hosts.append("%s\t%s" % (interface["address"], hostname))
        atomic_write(self.store.path(cid, "hosts"), "\n".join(hosts) + "\n")
        atomic_write(self.store.path(cid, "hostname"), hostname + "\n")
        atomic_write(self.store.path(cid, "resolv.conf"), host_resolv_conf())

    def spawn(self, record, tty_size=None):
        cid = record["Id"]
        plan = self.plan_for(record)
        running = Running(cid)
        running.tty = plan["tty"]
        bindings = []
        for key, entries in sorted(record["HostConfig"].get("PortBindings", {}).items()):
            port, proto = key.split("/")
            for entry in entries:
                bindings.append((entry.get("HostIp", ""), int(entry.get("HostPort") or port),
                                 int(port), proto))
        running.bindings = bindings
        if plan["network"] == "bridge":
            running.network_obj = self.network_factory()
            running.network = running.network_obj.reserve(cid)
        self.write_etc_files(record, running.network)
        resources = cgroups.convert_resources(record["HostConfig"])
        cgroup = cgroups.for_container(cid, os.environ.get("BERTH_CGROUP_PARENT", "berth"))
        running.warnings = cgroups.discarded_warnings(cgroup.create(resources, plan["privileged"]))
        running.cgroup = cgroup
        child_fds = []
        try:
            stdio = self._make_stdio(running, record, tty_size, child_fds)
            if running.console is not None:
                plan["console_fd"] = child_fds[0]
                plan["tty_size"] = tty_size
            pid = self._fork_container(plan, stdio, cgroup, child_fds, running, record)
            if running.console is not None:
                master = self._receive_console(running.console)
                running.outputs[master] = "stdout"
                running.stdin_fd = master
        except BaseException:
            self._release_network(running)
            if running.console is not None:
                running.console.close()
            for fd in list(running.outputs) + ([running.stdin_fd] if running.stdin_fd else []):
                try:
                    os.close(fd)
                except OSError:
                    pass
            cgroup.destroy()
            raise
        running.pid = pid
        running.started = time.time()
        running.log = logs.LogWriter(self.store.path(cid, "container.log"))
        self.running[cid] = running
        self.by_pid[pid] = running
        for fd in running.outputs:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
            self.selector.register(fd, selectors.EVENT_READ, ("output", running))
        ticks = state.process_start_ticks(pid)
        me = os.getpid()
        my_ticks = state.process_start_ticks(me)
        interface = running.network

        def mark(rec):
            rec["State"].update({"Status": "running", "Running": True, "Pid": pid, "ExitCode": 0,
                                 "Error": "", "StartedAt": logs.rfc3339_nano(), "OOMKilled": False,
                                 "FinishedAt": "0001-01-01T00:00:00Z"})
            rec["Berth"] = dict(rec.get("Berth", {}), StartTicks=ticks, SupervisorPid=me,
                                SupervisorTicks=my_ticks)
            ports = {}
            for host_ip, host_port, port, proto in bindings:
                ports.setdefault("%d/%s" % (port, proto), []).append(
                    {"HostIp": host_ip or "0.0.0.0", "HostPort": str(host_port)})
            if interface:
                rec["NetworkSettings"].update({
                    "IPAddress": interface["address"], "Gateway": interface["gateway"],
                    "IPPrefixLen": interface["prefix_len"], "MacAddress": interface["mac"],
                    "Bridge": interface["bridge"], "Ports": ports})
        self.store.update(cid, mark)
        return running

    def _make_stdio(self, running, record, tty_size, child_fds):
        config = record["Config"]
        if config.get("Tty"):
            # the container opens its pty from its own devpts and sends us the master
            parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            running.console = parent
            child_fds.append(child.detach())
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            child_fds.append(null)
            return [null, null, null]
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        running.outputs[out_r] = "stdout"
        running.outputs[err_r] = "stderr"
        child_fds.extend([out_w, err_w])
        if config.get("OpenStdin"):
            in_r, in_w = os.pipe()
            running.stdin_fd = in_w
            child_fds.append(in_r)
        else:
            in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            child_fds.append(in_r)
        return [in_r, out_w, err_w]

    def _fork_container(self, plan, stdio, cgroup, child_fds, running, record):
        """Fork the container's pid 1 straight into a new pid namespace, then wire the network.

        unshare(CLONE_NEWPID) only changes where our *next child* goes, so the
        supervisor unshares, forks, and at once setns()es back to its own pid
        namespace: one fork per container and the pid known without a
        round-trip. The child joins its cgroup and unshares the other
        namespaces itself. Where that is refused, an intermediate process does
        the double fork instead.
        """
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        err_r, err_w = os.pipe()
        flags = namespace_flags(plan["network"])
        if plan["network"] != "bridge":
            os.write(go_w, b"{}")  # nothing to wait for: the child runs straight through
            os.close(go_w)
            go_w = None
        pid = self._fork_direct(plan, stdio, cgroup, flags, go_r, go_w, err_w, ready_r, ready_w)
        if pid is None:
            pid = self._fork_intermediate(plan, stdio, cgroup, flags, go_r, go_w, err_w, ready_w)
        for fd in [go_r, err_w, ready_w] + child_fds:
            os.close(fd)
        if pid <= 0:
            os.close(ready_r)
            error = self._read_error(err_r)
            if go_w is not None:
                os.close(go_w)
            raise ContainerError(error or "container set-up failed")
        if go_w is not None:
            try:
                # the veth peer must land in the child's own netns: wait until it has one
                if os.read(ready_r, 1) != b"R":
                    raise ContainerError(self._read_error(err_r) or "container set-up failed")
                running.network_obj.attach(record["Id"], pid, running.bindings, running.network)
            except BaseException:
                os.close(ready_r)
                os.close(go_w)
                self._kill_and_reap(pid)
                raise
            os.write(go_w, json.dumps({"interface": running.network}).encode())
            os.close(go_w)
        os.close(ready_r)
        error = self._read_error(err_r)
        if error:
            status = self._kill_and_reap(pid)
            self._release_network(running)
            raise ContainerError("OCI runtime create failed: %s (exit %d)" % (error, exit_code_of(status)))
        return pid

    def _fork_direct(self, plan, stdio, cgroup, flags, go_r, go_w, err_w, ready_r, ready_w):
        if self.own_pid_ns is None:
            return None
        try:
            syscalls.unshare(syscalls.CLONE_NEWPID)
        except OSError:
            self.own_pid_ns = None
            return None
        try:
            pid = os.fork()
        except BaseException:
            syscalls.setns(self.own_pid_ns, syscalls.CLONE_NEWPID)
            raise
        if pid == 0:
            try:
                os.close(ready_r)
                if go_w is not None:
                    os.close(go_w)
                cgroup.join(0)  # 0: the writer itself (our pid is 1 in here)
                syscalls.unshare(flags & ~syscalls.CLONE_NEWPID)
                if go_w is not None:
                    os.write(ready_w, b"R")
                os.close(ready_w)
            except BaseException as exc:
                _report_and_exit(err_w, exc)
            init.container_main(plan, stdio, go_r, err_w)
        syscalls.setns(self.own_pid_ns, syscalls.CLONE_NEWPID)
        return pid

    def _fork_intermediate(self, plan, stdio, cgroup, flags, go_r, go_w, err_w, ready_w):
        pid_r, pid_w = os.pipe()
        intermediate = os.fork()
        if intermediate == 0:
            try:
                os.close(pid_r)
                if go_w is not None:
                    os.close(go_w)
                cgroup.join(0)  # 0: this single-threaded process (see CgroupV1.join)
                syscalls.unshare(flags)
                child = os.fork()
                if child == 0:
                    os.close(pid_w)
                    if go_w is not None:
                        os.write(ready_w, b"R")
                    os.close(ready_w)
                    init.container_main(plan, stdio, go_r, err_w)
                os.write(pid_w, str(child).encode())
                os._exit(0)
            except BaseException as exc:
                _report_and_exit(err_w, exc)
        os.close(pid_w)
        os.waitpid(intermediate, 0)
        raw = os.read(pid_r, 64)
        os.close(pid_r)
        return int(raw) if raw else -1

    @staticmethod
    def _receive_console(sock):
        sock.settimeout(10)
        try:
            _, ancillary, _, _ = sock.recvmsg(1, socket.CMSG_LEN(4))
        finally:
            sock.close()
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                return struct.unpack("i", data[:4])[0]
        raise ContainerError("the container did not hand over its terminal")

    @staticmethod
    def _read_error(fd):
        chunks = []
        deadline = time.time() + SPAWN_TIMEOUT
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        try:
            while time.time() < deadline:
                if not sel.select(max(0.0, deadline - time.time())):
                    break
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            sel.close()
            os.close(fd)
        return b"".join(chunks).decode("utf-8", "replace")

    @staticmethod
    def _kill_and_reap(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            return os.waitpid(pid, 0)[1]
        except OSError:
            return 0

    def _release_network(self, running):
        network = getattr(running, "network_obj", None)
        if network is not None and running.network:
            try:
                network.detach(running.id, running.network["address"], running.bindings)
            except Exception:
                pass
            running.network = None

    # -- exits -------------------------------------------------------------
    def _reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            running = self.by_pid.pop(pid, None)
            if running is not None:
                self._exited(running, exit_code_of(status))

    def _exited(self, running, code):
        cid = running.id
        self._drain(running)
        if running.log is not None:
            running.log.close()
        oom = False
        if running.cgroup is not None:
            oom = running.cgroup.stats().get("oom_kills", 0) > 0
        self._release_network(running)
        if running.stdin_fd is not None and not running.tty:
            self._close_stdin(running)
        if running.cgroup is not None:
            running.cgroup.destroy()
        self.running.pop(cid, None)

        def mark(rec):
            rec["State"].update({"Status": "exited", "Running": False, "Pid": 0, "ExitCode": code,
                                 "FinishedAt": logs.rfc3339_nano(), "OOMKilled": oom})
        try:
            record = self.store.update(cid, mark)
        except Exception:
            record = None
        if record is not None and record["HostConfig"].get("AutoRemove"):
            from . import manager
            manager.remove_files(self.store, record, volumes=True, defer=True)
            self.timers.append((time.time() + 0.5, self.store.empty_trash))
        elif record is not None and self._should_restart(record, code, time.time() - running.started):
            delay = min(0.1 * (2 ** min(record.get("RestartCount", 0), 8)), 60.0)
            self.timers.append((time.time() + delay, lambda: self._restart(cid)))
        for conn in list(running.clients):
            try:
                conn.sendall(frame(STREAM_EXIT, json.dumps({"exit": code}).encode()))
            except OSError:
                pass
            self._drop_client(conn)
        for conn in running.waiters:
            self._reply(conn, {"ok": True, "exit": code})
            self._drop_client(conn)

    @staticmethod
    def _should_restart(record, code, ran_for):
        policy = record["HostConfig"].get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if record.get("Berth", {}).get("ManuallyStopped") or name == "no":
            return False
        if name == "on-failure":
            limit = policy.get("MaximumRetryCount") or 0
            return code != 0 and (not limit or record.get("RestartCount", 0) < limit)
        return True

    @staticmethod
    def _should_restart_at_start(record):
        """dockerd's restart manager as its restore asks it: only containers started before."""
        current = record["State"]
        if current.get("Running") or current.get("StartedAt", "0001-").startswith("0001-") \
                or record["HostConfig"].get("AutoRemove"):
            return False
        policy = record["HostConfig"].get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if name == "always":
            return True
        if name == "unless-stopped":
            return not record.get("Berth", {}).get("ManuallyStopped")
        if name == "on-failure":
            limit = policy.get("MaximumRetryCount") or 0
            return current.get("ExitCode", 0) != 0 and (not limit or record.get("RestartCount", 0) < limit)
        return False

    def _restart(self, cid, at_start=False):
        """Start a container again for its restart policy.

        ``at_start``: the restore at supervisor start, which (as dockerd's
        containerStart with a reset restart manager) starts even a manually
        stopped ``always`` container, clears that flag and the restart count.
        """
        try:
            record = self.store.load(cid)
        except ContainerError:
            return
        if (record.get("Berth", {}).get("ManuallyStopped") and not at_start) or cid in self.running:
            return

        def bump(rec):
            if at_start:
                rec["RestartCount"] = 0
                rec.setdefault("Berth", {})["ManuallyStopped"] = False
            else:
                rec["RestartCount"] = rec.get("RestartCount", 0) + 1
        record = self.store.update(cid, bump)
        try:
            running = self.spawn(record)
            if self.store.load(cid).get("Berth", {}).get("ManuallyStopped"):
                os.kill(running.pid, signal.SIGKILL)  # a stop arrived while we restarted
        except Exception as exc:
            message = str(exc)

            def failed(rec):
                rec["State"]["Error"] = message
            self.store.update(cid, failed)


def _report_and_exit(fd, exc):
    try:
        os.write(fd, ("runtime: %s" % exc).encode())
    finally:
        os._exit(1)


def bridge_settings(environ=None):
    """(bridge name, bip): BERTH_BRIDGE/BERTH_BIP, else daemon.json's "bridge"/"bip" (Docker's
    keys), else berth0 with its default address."""
    from ..network.bridge import DEFAULT_BIP, DEFAULT_BRIDGE
    environ = os.environ if environ is None else environ
    config = {}
    path = environ.get("BERTH_DAEMON_CONFIG", "/etc/berth/daemon.json")
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        config = {}
    return (environ.get("BERTH_BRIDGE") or config.get("bridge") or DEFAULT_BRIDGE,
            environ.get("BERTH_BIP") or config.get("bip") or DEFAULT_BIP)


def _network_factory():
    from ..network.bridge import BridgeNetwork
    name, bip = bridge_settings()

    def make(root):
        return BridgeNetwork(root, name, bip)
    return make


def start_supervisor(root):
    """Double fork into a new session; the grandchild binds the socket and serves."""
    ready_r, ready_w = os.pipe()
    first = os.fork()
    if first == 0:
        try:
            os.close(ready_r)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            _become_supervisor(root, ready_w)
        except BaseException:
            pass
        os._exit(0)
    os.close(ready_w)
    os.waitpid(first, 0)
    os.read(ready_r, 16)
    os.close(ready_r)


def _become_supervisor(root, ready_w):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        listener.bind(socket_name(root))
    except OSError:
        os.write(ready_w, b"busy")  # another supervisor won the race: use it
        os._exit(0)
    listener.listen(128)
    os.chdir("/")
    os.umask(0o022)
    log_path = os.path.join(os.path.abspath(root), "supervisor.log")
    null = os.open(os.devnull, os.O_RDWR)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    keep = {listener.fileno(), ready_w}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    try:
        syscalls.set_process_name("berth-supervis")
    except OSError:
        pass
    make_network = _network_factory()
    supervisor = Supervisor(root, listener, lambda: make_network(root))
    os.write(ready_w, b"ok")
    os.close(ready_w)
    try:
        supervisor.serve()
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        os._exit(0)

