"""Which containers a starting supervisor restarts (dockerd's restore) and when it must restore."""
import json
import os

from berth.runtime.container import spec, state
from berth.runtime.container.supervisor import Supervisor


def record(policy, status="exited", exit_code=0, restarts=0, manually_stopped=False, auto_remove=False):
    body = {"Image": "img", "HostConfig": {"RestartPolicy": spec.parse_restart(policy), "AutoRemove": auto_remove}}
    if auto_remove:  # dockerd refuses AutoRemove with a policy; a record made before that rule may hold both
        body["HostConfig"]["RestartPolicy"] = {"Name": "no"}
    rec = spec.build_record("a" * 64, "c", "sha256:x", body, {"Cmd": ["sh"]}, "2026-01-01T00:00:00Z")
    rec["HostConfig"]["RestartPolicy"] = spec.parse_restart(policy)
    rec["State"].update({"Status": status, "Running": status == "running", "ExitCode": exit_code})
    if status != "created":
        rec["State"]["StartedAt"] = "2026-01-01T00:00:01Z"
    rec["RestartCount"] = restarts
    rec["Berth"] = {"ManuallyStopped": manually_stopped}
    return rec


def test_should_restart_at_start_follows_dockerds_restart_manager():
    should = Supervisor._should_restart_at_start
    assert should(record("always", manually_stopped=True))
    assert should(record("unless-stopped", exit_code=255))
    assert not should(record("unless-stopped", manually_stopped=True))
    assert should(record("on-failure:3", exit_code=255, restarts=2))
    assert not should(record("on-failure:3", exit_code=255, restarts=3))
    assert should(record("on-failure", exit_code=1, restarts=50))
    assert not should(record("on-failure", exit_code=0))
    assert not should(record("no", exit_code=255))
    assert not should(record("always", status="created"))  # never started: dockerd skips it too
    assert not should(record("always", status="running"))
    assert not should(record("always", auto_remove=True))


def test_restore_is_due_after_a_reboot_or_a_crash(tmp_path, monkeypatch):
    boot = tmp_path / "boot_id"
    boot.write_text("b1\n")
    monkeypatch.setenv("BERTH_BOOT_ID_PATH", str(boot))
    root = str(tmp_path)
    assert not state.supervisor_restore_due(root)  # no supervisor ever ran here
    state.write_supervisor_record(root, os.getpid(), clean=False)
    assert json.loads((tmp_path / "supervisor.json").read_text())["BootId"] == "b1"
    assert not state.supervisor_restore_due(root)  # it runs (this process stands in for it)
    state.write_supervisor_record(root, os.getpid(), clean=True)
    assert not state.supervisor_restore_due(root)  # exited idle
    boot.write_text("b2\n")
    assert state.supervisor_restore_due(root)  # rebooted since
    boot.write_text("b1\n")
    record = json.loads((tmp_path / "supervisor.json").read_text())
    record.update({"Clean": False, "StartTicks": 1})  # the pid now names another process
    (tmp_path / "supervisor.json").write_text(json.dumps(record))
    assert state.supervisor_restore_due(root)
