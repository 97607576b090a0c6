"""Container records on disk: <root>/containers/<id>/config.v2.json, atomic and locked.

A record is written whole (temp file + rename) under the container's lock, so
a killed command leaves the old record or the new one. ``refresh`` tells the
truth after a reboot or a killed supervisor: a record that says running whose
pid is gone (or now belongs to another process) becomes exited.
"""
import json
import os
import shutil
import time

from ...common.atomic import atomic_write, locked
from . import logs
from .errors import Conflict, NotFound

RECORD = "config.v2.json"
UNKNOWN_EXIT = 255  # exit status lost with its supervisor, as dockerd reports it


def process_start_ticks(pid):
    """Field 22 of /proc/PID/stat: with the pid it identifies one process for good."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return int(data[data.rindex(b")") + 2:].split()[19])


def process_alive(pid, start_ticks):
    if not pid:
        return False
    ticks = process_start_ticks(pid)
    if ticks is None or (start_ticks and ticks != start_ticks):
        return False
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


class ContainerStore(object):
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.base = os.path.join(self.root, "containers")
        self.volumes = os.path.join(self.root, "volumes")
        os.makedirs(self.base, mode=0o710, exist_ok=True)
        self.names_lock = os.path.join(self.base, ".names.lock")

    def dir(self, container_id):
        return os.path.join(self.base, container_id)

    def path(self, container_id, name):
        return os.path.join(self.base, container_id, name)

    def lock(self, container_id):
        return locked(os.path.join(self.base, container_id, ".lock"))

    def ids(self):
        try:
            return [n for n in os.listdir(self.base) if len(n) == 64]
        except OSError:
            return []

    def load(self, container_id):
        try:
            with open(self.path(container_id, RECORD)) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            raise NotFound("No such container: %s" % container_id) from None

    def save(self, record):
        atomic_write(self.path(record["Id"], RECORD), json.dumps(record, indent=None, sort_keys=True),
                     mode=0o600)

    def create(self, record):
        """Write a new record; the name is checked and taken under one global lock."""
        with locked(self.names_lock):
            for other in self.all():
                if other["Name"] == record["Name"]:
                    raise Conflict(
                        'Conflict. The container name "%s" is already in use by container "%s". '
                        "You have to remove (or rename) that container to be able to reuse that name."
                        % (record["Name"], other["Id"]))
            os.makedirs(self.dir(record["Id"]), mode=0o710)
            self.save(record)

    def update(self, container_id, change):
        """Load, apply ``change(record)``, save: all under the container's lock."""
        with self.lock(container_id):
            record = self.load(container_id)
            change(record)
            self.save(record)
            return record

    def all(self):
        records = []
        for container_id in self.ids():
            try:
                records.append(self.load(container_id))
            except NotFound:
                continue
        return records

    def find(self, ref):
        """By full id, by name (with or without '/'), or by a unique id prefix (Docker's order)."""
        if len(ref) == 64 and os.path.exists(self.path(ref, RECORD)):
            return self.load(ref)
        records = self.all()
        name = "/" + ref.lstrip("/")
        for record in records:
            if record["Name"] == name:
                return record
        matches = [r for r in records if r["Id"].startswith(ref)] if ref else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise Conflict("multiple containers found with provided prefix: %s" % ref)
        raise NotFound("No such container: %s" % ref)

    def refresh(self, record):
        """Correct a record whose process died without its supervisor noticing."""
        state = record["State"]
        if not state.get("Running"):
            return record
        berth = record.get("Berth", {})
        if process_alive(state.get("Pid"), berth.get("StartTicks")):
            if process_alive(berth.get("SupervisorPid"), berth.get("SupervisorTicks")):
                return record
            return record  # orphaned but alive: it is running, say so

        def mark(rec):
            if rec["State"].get("Running") and rec["State"].get("Pid") == state.get("Pid"):
                rec["State"].update({"Status": "exited", "Running": False, "Pid": 0,
                                     "ExitCode": UNKNOWN_EXIT, "FinishedAt": logs.rfc3339_nano(),
                                     "Error": "container process disappeared with its supervisor"})
        try:
            return self.update(record["Id"], mark)
        except NotFound:
            return record

    def remove(self, container_id):
        shutil.rmtree(self.dir(container_id), ignore_errors=True)

    def wait_until_not_running(self, container_id, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            record = self.refresh(self.load(container_id))
            if not record["State"]["Running"]:
                return record
            time.sleep(0.01)
        return None
