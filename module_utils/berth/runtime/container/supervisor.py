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

from ...common import paths
from .. import syscalls
from . import caps, cgroups, etcfiles, lifecycle, logs, spawn, spec, specconv, state
from .errors import ContainerError
from .protocol import STREAM_EXIT, STREAM_STDERR, STREAM_STDOUT, frame

IDLE_SECONDS = float(os.environ.get("BERTH_SUPERVISOR_IDLE", "30"))
SPAWN_TIMEOUT = 60


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
        self.forker = spawn.Forker()

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
        from . import seccomp
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
        for record in records:
            cid = record["Id"]
            if cid in found_dead or record.get("Berth", {}).get("NeedsCleanup"):
                try:
                    record = lifecycle.reconcile(self.store, self.store.load(cid))  # frees what it held
                except ContainerError:
                    continue
                if record["HostConfig"].get("AutoRemove"):
                    lifecycle.remove_files(self.store, record, volumes=True)
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
            self._reply(conn, {"ok": False, "error": str(exc), "exit_code": getattr(exc, "exit_code", 1),
                               "status": getattr(exc, "status", 500)})
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
        try:
            record, reason = lifecycle.create(self.store, request.get("name"), request["body"])
        except ContainerError as exc:
            self._reply(conn, {"ok": False, "error": str(exc), "exit_code": exc.exit_code,
                               "status": exc.status})
            self._drop_client(conn)
            return
        try:
            running = self.spawn(record, request.get("tty_size"))
        except Exception as exc:
            if record["HostConfig"].get("AutoRemove"):
                lifecycle.remove_files(self.store, self.store.load(record["Id"]), volumes=True)
            self._reply(conn, {"ok": False, "error": str(exc), "id": record["Id"], "warning": reason,
                               "exit_code": getattr(exc, "exit_code", 125), "status": 500})
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
    def spawn(self, record, tty_size=None):
        """Start a created container: address, /etc files, cgroup, stdio, the fork, the record."""
        cid = record["Id"]
        plan = specconv.plan_for(record, self.store.dir(cid), os.path.join(self.root, "l"),
                                 caps.bounding_mask())
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
        etcfiles.write(self.store.dir(cid), record, running.network)
        resources = cgroups.convert_resources(record["HostConfig"])
        cgroup = cgroups.for_container(cid, paths.cgroup_parent())
        running.warnings = cgroups.discarded_warnings(cgroup.create(resources, plan["privileged"]))
        running.cgroup = cgroup
        child_fds = []
        console = None
        try:
            stdio, running.outputs, running.stdin_fd, console = spawn.make_stdio(record["Config"], child_fds)
            if console is not None:
                plan["console_fd"] = child_fds[0]
                plan["tty_size"] = tty_size

            def wire_network(pid):
                running.network_obj.attach(cid, pid, running.bindings, running.network)
                return running.network
            pid = self.forker.fork_container(plan, stdio, cgroup, child_fds,
                                             wire_network if running.network else None)
            if console is not None:
                master = spawn.receive_console(console)
                console = None
                running.outputs[master] = "stdout"
                running.stdin_fd = master
        except BaseException:
            self._release_network(running)
            if console is not None:
                console.close()
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
                self._exited(running, spawn.exit_code_of(status))

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
            lifecycle.remove_files(self.store, record, volumes=True, defer=True)
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
