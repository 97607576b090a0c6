"""Container lifecycle, as the CLI, the API server and the modules call it.

create -> start (by the supervisor) -> stop/kill -> wait -> rm. Records live in
``state.ContainerStore``; running containers belong to the supervisor of the
same store root (supervisor.py explains why one supervisor holds them all).
"""
import binascii
import errno
import json
import os
import shutil
import signal
import socket
import struct
import time

from . import client, images, logs, rootfs, spec, state
from .errors import Conflict, ContainerError

DEFAULT_ROOT = "/var/lib/berth"


class Manager(object):
    def __init__(self, root=DEFAULT_ROOT):
        self.root = os.path.abspath(root)
        self.store = state.ContainerStore(self.root)
        self._driver = None  # ((request, device of the root), (driver, reason)): see storage_driver
        images.register_in_use_checker(images_in_use)

    def storage_driver(self):
        """rootfs.choose_driver's answer, asked again only when the request or the filesystem
        under the root changes (it reads /proc/filesystems and /proc/self/mounts, and the
        supervisor's Manager creates every container of the root)."""
        key = (os.environ.get("BERTH_STORAGE_DRIVER"), os.stat(self.root).st_dev)
        if self._driver is None or self._driver[0] != key:
            self._driver = (key, rootfs.choose_driver(self.root, key[0]))
        return self._driver[1]

    # -- create ------------------------------------------------------------
    def create(self, image_ref, options):
        """Resolve the image, build the record, lay out the rootfs dirs; nothing runs yet."""
        image = images.resolve(self.root, image_ref)
        if image.id.startswith("dir:"):
            rootfs.check_special_dirs(image.layers[0])
        container_id = spec.new_container_id()
        name = spec.validate_name(options["name"]) if options.get("name") else None
        record = spec.build_record(container_id, name or "pending", image.id, image_ref,
                                   image.config, options, logs.rfc3339_nano())
        driver, reason = self.storage_driver()
        record["Mounts"] = [self._volume_mount(v) for v in options.get("volumes", [])]
        record["LogPath"] = self.store.path(container_id, "container.log")
        record["HostnamePath"] = self.store.path(container_id, "hostname")
        record["HostsPath"] = self.store.path(container_id, "hosts")
        record["ResolvConfPath"] = self.store.path(container_id, "resolv.conf")
        record["Berth"] = {"StorageReason": reason}
        directory = self.store.dir(container_id)
        data = {"MergedDir": os.path.join(directory, "merged")}
        if driver == "overlay2":
            data.update({"LowerDirs": image.layers, "LowerDir": ":".join(reversed(image.layers)),
                         "UpperDir": os.path.join(directory, "upper"),
                         "WorkDir": os.path.join(directory, "work")})
            make_dirs = ("upper", "work", "merged")
        else:
            data["MergedDir"] = os.path.join(directory, "rootfs")
            make_dirs = ()
        record["GraphDriver"] = {"Name": driver, "Data": data}
        durable = not record["HostConfig"]["AutoRemove"]  # an --rm container dies with a crash anyway
        if name:
            self.store.create(record, make_dirs, durable)
        else:
            for attempt in range(20):
                record["Name"] = "/" + (spec.random_name(()) if attempt < 10 else container_id[:12])
                try:
                    self.store.create(record, make_dirs, durable)
                    break
                except Conflict:
                    continue
        if driver == "vfs":
            try:
                rootfs.copy_layers(image.layers, data["MergedDir"])
            except BaseException:
                self.store.remove(container_id, record["Name"])
                raise
        return record, reason

    def _volume_mount(self, text):
        volume = spec.parse_volume(text)
        if volume["Type"] == "bind":
            if not os.path.exists(volume["Source"]):
                os.makedirs(volume["Source"])
            volume["Name"] = ""
        else:
            name = volume["Source"] or binascii.hexlify(os.urandom(32)).decode()
            data = os.path.join(self.store.volumes, name, "_data")
            os.makedirs(data, exist_ok=True)
            volume.update({"Name": name, "Source": data})
        return {"Type": volume["Type"], "Name": volume["Name"], "Source": volume["Source"],
                "Destination": volume["Destination"], "RW": volume["RW"], "Mode": "",
                "Propagation": "rprivate", "Anonymous": volume["Anonymous"]}

    # -- lookup ------------------------------------------------------------
    def get(self, ref):
        return self._reconcile(self.store.refresh(self.store.find(ref)))

    def _reconcile(self, record):
        """Free what a container that died without its supervisor still holds:
        its cgroups, its published ports and its address."""
        if not record.get("Berth", {}).get("NeedsCleanup"):
            return record
        from . import cgroups
        cgroups.for_container(record["Id"], os.environ.get("BERTH_CGROUP_PARENT", "berth")).destroy()
        settings = record["NetworkSettings"]
        if settings.get("Bridge") and settings.get("IPAddress"):
            from ..network.bridge import BridgeNetwork
            from .supervisor import bridge_settings
            name, bip = bridge_settings()
            if name == settings["Bridge"]:
                bindings = [(entry.get("HostIp", ""), int(entry["HostPort"]), int(key.split("/")[0]),
                             key.split("/")[1])
                            for key, entries in sorted(settings.get("Ports", {}).items())
                            for entry in entries or []]
                bindings = [(ip if ip != "0.0.0.0" else "", hp, cp, proto)
                            for ip, hp, cp, proto in bindings]
                BridgeNetwork(self.root, name, bip).detach(record["Id"], settings["IPAddress"],
                                                          bindings)

        def done(rec):
            rec["Berth"].pop("NeedsCleanup", None)
        return self.store.update(record["Id"], done)

    def list(self, all_states=False):
        if state.supervisor_restore_due(self.root):
            self.start_supervisor()  # after a reboot or a crash: restart policies first
        records = [self._reconcile(self.store.refresh(r)) for r in self.store.all()]
        if not all_states:
            records = [r for r in records if r["State"]["Running"]]
        return sorted(records, key=lambda r: r["Created"], reverse=True)

    # -- start / attach ----------------------------------------------------
    def request(self, message, start=True):
        sock = client.connect(self.root, start=start)
        if sock is None:
            return None, None
        sock.sendall(json.dumps(message).encode() + b"\n")
        reply = _read_line(sock)
        if not reply.get("ok"):
            sock.close()
            raise ContainerError(reply.get("error") or "supervisor refused the request")
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
        remove_files(self.store, self.store.load(record["Id"]), volumes)
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
                remove_files(self.store, record, volumes=False)
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


def remove_files(store, record, volumes, defer=False):
    """Delete a stopped container's directory and, with ``volumes``, its anonymous volumes."""
    if volumes:
        for mount in record.get("Mounts", []):
            if mount.get("Anonymous") and mount.get("Name"):
                shutil.rmtree(os.path.join(store.volumes, mount["Name"]), ignore_errors=True)
    store.remove(record["Id"], record["Name"], defer=defer)


def images_in_use(image_store):
    """The image store's in-use checker: image ids of every container under that root."""
    try:
        records = state.ContainerStore(image_store.root).all()
    except OSError:
        return set()
    return {r["Image"] for r in records}


def _read_line(sock):
    data = client.read_line(sock)
    if data is None:
        raise ContainerError("the supervisor closed the connection")
    return json.loads(data.decode("utf-8"))


def read_frames(sock):
    """Yield (stream, payload) frames from an attached socket until the exit frame."""
    buffer = b""
    while True:
        while len(buffer) < 8:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
        stream, length = struct.unpack(">BxxxI", buffer[:8])
        while len(buffer) < 8 + length:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
        payload, buffer = buffer[8:8 + length], buffer[8 + length:]
        yield stream, payload
        if stream == client.STREAM_EXIT:
            return


def wait_for_socket_close(sock, timeout):
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except (socket.timeout, OSError):
        pass
    time.sleep(0)
