"""Container records on disk: <root>/containers/<id>/config.v2.json, atomic and locked.

A record is written whole (temp file + rename) under the container's lock, so
a killed command leaves the old record or the new one. ``refresh`` tells the
truth after a reboot or a killed supervisor: a record that says running whose
pid is gone (or now belongs to another process), or that was written in an
earlier boot, becomes exited.

``<root>/supervisor.json`` is the root's supervisor's own record (pid, boot id,
whether it exited cleanly): the next supervisor reads it to know whether it
starts after a reboot or a crash, when restart policies apply as they do at
dockerd's start (see supervisor.Supervisor.adopt_orphans).
"""
import json
import os
import shutil
import time

from ...common.atomic import atomic_write, locked
from . import logs
from .errors import Conflict, NotFound

RECORD = "config.v2.json"
NAMES = "names"
TRASH = ".trash"
UNKNOWN_EXIT = 255  # exit status lost with its supervisor, as dockerd reports it
SUPERVISOR_RECORD = "supervisor.json"
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def current_boot_id():
    """The kernel's id of this boot; BERTH_BOOT_ID_PATH exists for tests that fake a reboot."""
    try:
        with open(os.environ.get("BERTH_BOOT_ID_PATH") or BOOT_ID_PATH) as handle:
            return handle.read().strip()
    except OSError:
        return ""


def read_supervisor_record(root):
    try:
        with open(os.path.join(root, SUPERVISOR_RECORD)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_supervisor_record(root, pid, clean):
    """The running supervisor says who it is and in which boot; ``clean`` when it exits idle."""
    record = {"Pid": pid, "StartTicks": process_start_ticks(pid), "BootId": current_boot_id(),
              "Clean": clean}
    atomic_write(os.path.join(root, SUPERVISOR_RECORD), json.dumps(record, sort_keys=True), mode=0o600,
                 durable=False)


def supervisor_restore_due(root, previous=None):
    """True after a reboot, or when the last supervisor died without exiting cleanly.

    Then the next supervisor must run the restore (restart policies); a root
    whose supervisor never ran, or exited idle in this boot, needs none.
    """
    previous = read_supervisor_record(root) if previous is None else previous
    if not previous:
        return False
    if previous.get("BootId") != current_boot_id():
        return True
    if previous.get("Clean"):
        return False
    return not process_alive(previous.get("Pid"), previous.get("StartTicks"))


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

    def booted_since_supervisor(self):
        """Whether the root's last supervisor ran in an earlier boot: its pids mean nothing now.

        Read afresh each time (two small files): a supervisor may record the new boot meanwhile.
        """
        previous = read_supervisor_record(self.root)
        return bool(previous) and previous.get("BootId") != current_boot_id()

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

    def save(self, record, durable=False):
        """Write the record whole. ``durable`` (fsyncs) for a container's creation only: the state
        changes of a running container are rewritten after a reboot anyway (see refresh)."""
        atomic_write(self.path(record["Id"], RECORD), json.dumps(record, sort_keys=True), mode=0o600,
                     durable=durable)

    def _name_link(self, name):
        return os.path.join(self.base, NAMES, name.lstrip("/"))

    def claim_name(self, name, container_id):
        """Take ``name`` for a container: one symlink, created atomically (EEXIST = taken)."""
        link = self._name_link(name)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        with locked(self.names_lock):
            try:
                os.symlink(container_id, link)
                return
            except FileExistsError:
                holder = os.readlink(link)
                if os.path.exists(self.path(holder, RECORD)) and holder != container_id:
                    raise Conflict(
                        'Conflict. The container name "/%s" is already in use by container "%s". '
                        "You have to remove (or rename) that container to be able to reuse that name."
                        % (name.lstrip("/"), holder)) from None
                os.unlink(link)  # left by a container removed while it was being created
                os.symlink(container_id, link)

    def release_name(self, name, container_id):
        link = self._name_link(name)
        try:
            if os.readlink(link) == container_id:
                os.unlink(link)
        except OSError:
            pass

    def id_for_name(self, name):
        try:
            return os.readlink(self._name_link(name))
        except OSError:
            return None

    def create(self, record, make_dirs=(), durable=True):
        """Claim the name, make the directory (and ``make_dirs`` in it), write the record once."""
        self.claim_name(record["Name"], record["Id"])
        try:
            os.makedirs(self.dir(record["Id"]), mode=0o710)
            for name in make_dirs:
                os.mkdir(self.path(record["Id"], name), 0o755)
            self.save(record, durable=durable)
        except BaseException:
            self.release_name(record["Name"], record["Id"])
            shutil.rmtree(self.dir(record["Id"]), ignore_errors=True)
            raise

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
        by_name = self.id_for_name(ref) if ref and "/" not in ref.lstrip("/") else None
        if by_name and os.path.exists(self.path(by_name, RECORD)):
            return self.load(by_name)
        matches = [i for i in self.ids() if i.startswith(ref)] if ref else []
        if len(matches) == 1:
            return self.load(matches[0])
        if len(matches) > 1:
            raise Conflict("multiple containers found with provided prefix: %s" % ref)
        raise NotFound("No such container: %s" % ref)

    def refresh(self, record):
        """Correct a record whose process died without its supervisor noticing."""
        state = record["State"]
        if not state.get("Running"):
            return record
        berth = record.get("Berth", {})
        rebooted = self.booted_since_supervisor()
        if not rebooted and process_alive(state.get("Pid"), berth.get("StartTicks")):
            return record  # alive, supervised or orphaned: it is running, say so
        if not rebooted and process_alive(berth.get("SupervisorPid"), berth.get("SupervisorTicks")):
            return record  # its supervisor is alive and will record the real exit status
        error = ("the host rebooted while the container ran" if rebooted
                 else "container process disappeared with its supervisor")

        def mark(rec):
            if rec["State"].get("Running") and rec["State"].get("Pid") == state.get("Pid"):
                rec["State"].update({"Status": "exited", "Running": False, "Pid": 0,
                                     "ExitCode": UNKNOWN_EXIT, "FinishedAt": logs.rfc3339_nano(),
                                     "Error": error})
                rec.setdefault("Berth", {})["NeedsCleanup"] = True
        try:
            return self.update(record["Id"], mark)
        except NotFound:
            return record

    def remove(self, container_id, name=None, defer=False):
        """Rename the directory away (one atomic step), then delete it (now or ``defer``red)."""
        if name:
            self.release_name(name, container_id)
        trash = os.path.join(self.base, TRASH)
        os.makedirs(trash, exist_ok=True)
        target = os.path.join(trash, "%s-%d" % (container_id, os.getpid()))
        try:
            os.rename(self.dir(container_id), target)
        except OSError:
            return
        if not defer:
            shutil.rmtree(target, ignore_errors=True)

    def empty_trash(self):
        trash = os.path.join(self.base, TRASH)
        try:
            names = os.listdir(trash)
        except OSError:
            return
        for name in names:
            shutil.rmtree(os.path.join(trash, name), ignore_errors=True)

    def wait_until_not_running(self, container_id, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            record = self.refresh(self.load(container_id))
            if not record["State"]["Running"]:
                return record
            time.sleep(0.01)
        return None
