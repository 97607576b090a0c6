"""Files written but not yet applied: the previous versions, kept until dockerd is healthy on the new ones.

``/var/lib/berth/dockerd/pending.json`` records the action the written change
needs (reload or restart) and, per managed file, where its previous content is
kept (None when the file did not exist). It survives a play that stops between
writing and restarting, so the next run still applies, or rolls back to, the
configuration the daemon last ran with.
"""
import json
import os
import shutil

from ...common.atomic import atomic_write

DEFAULT_STATE_DIR = "/var/lib/berth/dockerd"
ACTION_RANK = {"none": 0, "reload": 1, "restart": 2}


def stronger(first, second):
    return first if ACTION_RANK.get(first, 0) >= ACTION_RANK.get(second, 0) else second


def _pending_path(state_dir):
    return os.path.join(state_dir, "pending.json")


def read_pending(state_dir):
    try:
        with open(_pending_path(state_dir)) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return None


def record_change(state_dir, action, paths):
    """Keep the live ``paths`` as they are now (once per pending change) and note the action."""
    os.makedirs(os.path.join(state_dir, "previous"), mode=0o700, exist_ok=True)
    os.chmod(state_dir, 0o700)
    pending = read_pending(state_dir)
    if pending is None:
        files = {}
        for index, path in enumerate(paths):
            if os.path.exists(path):
                backup = os.path.join(state_dir, "previous", "%d-%s" % (index, os.path.basename(path)))
                shutil.copy2(path, backup)
                files[path] = backup
            else:
                files[path] = None
        pending = {"action": action, "files": files}
    else:
        pending["action"] = stronger(pending.get("action", "none"), action)
        for path in paths:
            pending["files"].setdefault(path, None)
    atomic_write(_pending_path(state_dir), json.dumps(pending, indent=2, sort_keys=True) + "\n", mode=0o600)
    return pending


def restore_previous(pending):
    """Put every managed file back as it was before the pending change; return the paths touched."""
    restored = []
    for path, backup in sorted(pending.get("files", {}).items()):
        if backup is None:
            if os.path.exists(path):
                os.unlink(path)
                restored.append(path)
            continue
        with open(backup, "rb") as handle:
            data = handle.read()
        mode = os.stat(backup).st_mode & 0o7777
        atomic_write(path, data, mode=mode)
        restored.append(path)
    return restored


def clear_pending(state_dir):
    """The change is applied (or rolled back): forget it and its kept files."""
    try:
        os.unlink(_pending_path(state_dir))
    except OSError:
        pass
    shutil.rmtree(os.path.join(state_dir, "previous"), ignore_errors=True)
