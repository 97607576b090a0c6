"""The containers of one store root, as the CLI, the API server and the modules drive them.

create -> start (by the supervisor) -> stop/kill -> wait -> rm. Records live in
``state.ContainerStore``; running containers belong to the supervisor of the
same store root (supervisor.py explains why one supervisor holds them all),
reached through client.connect and protocol.py. The steps the supervisor
shares (create, reconcile, remove) are in lifecycle.py.
"""
import errno
import os
import signal

from ...common import paths
from . import client, images, lifecycle, logs, protocol, spec, state
from .errors import Conflict, ContainerError


class Manager(object):
    def __init__(self, root=paths.DEFAULT_ROOT):
        self.root = os.path.abspath(root)
        self.store = state.ContainerStore(self.root)
        images.register_in_use_checker(lifecycle.images_in_use)

    def create(self, name, body):
        """A container from an Engine API create body (options.to_body makes one from CLI flags);
        returns (record, vfs reason or "")."""
        return lifecycle.create(self.store, name, body)

    # -- lookup ------------------------------------------------------------
    def get(self, ref):
        return lifecycle.reconcile(self.store, self.store.refresh(self.store.find(ref)))

    def list(self, all_states=False):
        if state.supervisor_restore_due(self.root):
            self.start_supervisor()  # after a reboot or a crash: restart policies first
        records = [lifecycle.reconcile(self.store, self.store.refresh(r)) for r in self.store.all()]
        if not all_states:
            records = [r for r in records if r["State"]["Running"]]
        return sorted(records, key=lambda r: r["Created"], reverse=True)

    # -- start / attach ----------------------------------------------------
    def request(self, message, start=True):
        sock = client.connect(self.root, start=start)
        if sock is None:
            return None, None
        sock.sendall(protocol.encode_line(message))
        reply = _read_line(sock)
        if not reply.get("ok"):
            sock.close()
            raise reply_error(reply)
        return reply, sock

    def start(self, ref, attach=False, stdin=False, tty_size=None):
        """Start through the supervisor; with ``attach`` returns the stream socket."""
        record = self.get(ref)
        if record["State"]["Running"]:
            if attach:
                return self.attach(ref, stdin)
            return None

        def clear(rec):
            rec.setdefault("Berth", {})["ManuallyStopped"] = False
        self.store.update(record["Id"], clear)
        _, sock = self.request({"op": "start", "id": record["Id"], "attach": attach, "stdin": stdin,
                                "tty_size": tty_size})
        if attach:
            return sock
        sock.close()
        return None

    def attach(self, ref, stdin=False):
        record = self.get(ref)
        _, sock = self.request({"op": "attach", "id": record["Id"], "stdin": stdin}, start=False) \
            if record["State"]["Running"] else (None, None)
        if sock is None:
            raise ContainerError("You cannot attach to a stopped container, start it first")
        return sock

    def resize(self, ref, rows, cols):
        record = self.get(ref)
        reply, sock = self.request({"op": "resize", "id": record["Id"], "rows": rows, "cols": cols},
                                   start=False)
        if sock is not None:
            sock.close()

    # -- signals -----------------------------------------------------------
    def kill(self, ref, signum=signal.SIGKILL):
        record = self.get(ref)
        if not record["State"]["Running"]:
            raise Conflict("Cannot kill container: %s: Container %s is not running"
                           % (ref, record["Id"]))

        def mark(rec):
            rec.setdefault("Berth", {})["ManuallyStopped"] = True  # as dockerd's kill
        self.store.update(record["Id"], mark)
        self._signal(record, signum)
        return record

    def _signal(self, record, signum):
        pid = record["State"]["Pid"]
        if state.process_alive(pid, record.get("Berth", {}).get("StartTicks")):
            try:
                os.kill(pid, signum)
            except OSError as exc:
                if exc.errno != errno.ESRCH:
                    raise

    def stop(self, ref, timeout=10):
        """SIGTERM, then SIGKILL after ``timeout`` seconds; restart policies stand down."""
        record = self.get(ref)

        def mark(rec):
            rec.setdefault("Berth", {})["ManuallyStopped"] = True
        self.store.update(record["Id"], mark)
        if not record["State"]["Running"]:
            return record
        self._signal(record, signal.SIGTERM)
        done = self.store.wait_until_not_running(record["Id"], timeout) if timeout > 0 else None
        if done is None:
            self._signal(record, signal.SIGKILL)
            done = self.store.wait_until_not_running(record["Id"], 30)
        return done or self.get(ref)

    def wait(self, ref):
        """Block until the container is not running; return its exit code."""
        record = self.get(ref)
        if not record["State"]["Running"]:
            return record["State"]["ExitCode"]
        reply, sock = self.request({"op": "wait", "id": record["Id"]}, start=False)
        if sock is not None and reply.get("waiting"):
            try:
                result = _read_line(sock)
                return result.get("exit", state.UNKNOWN_EXIT)
            except ContainerError:
                pass
            finally:
                sock.close()
        elif sock is not None:
            sock.close()
            return reply.get("exit")
        done = self.store.wait_until_not_running(record["Id"], 10 ** 9)
        return done["State"]["ExitCode"]

    # -- remove ------------------------------------------------------------
    def remove(self, ref, force=False, volumes=False):
        record = self.get(ref)
        if record["State"]["Running"]:
            if not force:
                raise Conflict("You cannot remove a running container %s. Stop the container before "
                               "attempting removal or force remove" % record["Id"])

            def mark(rec):
                rec.setdefault("Berth", {})["ManuallyStopped"] = True
                rec["HostConfig"]["AutoRemove"] = False
            self.store.update(record["Id"], mark)
            self._signal(record, signal.SIGKILL)
            self.store.wait_until_not_running(record["Id"], 30)
        lifecycle.remove_files(self.store, self.store.load(record["Id"]), volumes)
        return record

    def rename(self, ref, new_name):
        record = self.get(ref)
        new = "/" + spec.validate_name(new_name)
        self.store.claim_name(new, record["Id"])

        def change(rec):
            rec["Name"] = new
        self.store.update(record["Id"], change)
        self.store.release_name(record["Name"], record["Id"])

    def prune(self):
        removed = []
        for record in self.list(all_states=True):
            if record["State"]["Status"] in ("exited", "created", "dead"):
                lifecycle.remove_files(self.store, record, volumes=False)
                removed.append(record["Id"])
        return removed

    # -- logs --------------------------------------------------------------
    def log_entries(self, ref, since=None):
        record = self.get(ref)
        return record, logs.read_entries(record["LogPath"], since)

    def start_supervisor(self):
        """Make sure the root's supervisor runs; it restores the containers as it starts.

        Returns its ping reply (pid, containers it holds) once the restore is done.
        """
        reply, sock = self.request({"op": "ping"})
        sock.close()
        return reply

    def shutdown_supervisor(self):
        reply, sock = self.request({"op": "shutdown"}, start=False)
        if sock is not None:
            sock.close()


def _read_line(sock):
    data = protocol.read_line(sock)
    if data is None:
        raise ContainerError("the supervisor closed the connection")
    return protocol.decode(data)


def reply_error(reply):
    """The error a refusing supervisor reply stands for, with the exit and HTTP statuses it sent."""
    error = ContainerError(reply.get("error") or "the supervisor refused the request")
    if reply.get("exit_code"):
        error.exit_code = reply["exit_code"]
    if reply.get("status"):
        error.status = reply["status"]
    return error
