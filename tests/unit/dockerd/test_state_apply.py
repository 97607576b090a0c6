"""Kept previous files, journal error extraction, /info checks; converge with a 23.0+ dockerd --validate."""
import json
import os
import stat

from berth.hostprep.commands import subprocess_runner
from berth.hostprep.dockerd import apply, manager, state
from berth.hostprep.dockerd.errors import DockerdConfigError

JOURNAL = """Starting docker.service - Docker Application Container Engine...
time="2026-11-29T02:31:09.377Z" level=info msg="Starting up"
time="2026-11-29T02:31:09.380Z" level=info msg="[graphdriver] trying configured driver: btrfs"
failed to start daemon: error initializing graphdriver: prerequisites for driver not satisfied (wrong filesystem?)
docker.service: Main process exited, code=exited, status=1/FAILURE
docker.service: Failed with result 'exit-code'.
Failed to start docker.service - Docker Application Container Engine.
"""


def test_daemon_error_keeps_dockerd_lines_only():
    assert apply.daemon_error(JOURNAL) == (
        "failed to start daemon: error initializing graphdriver: prerequisites for driver not satisfied "
        "(wrong filesystem?)")
    assert apply.daemon_error("Starting docker.service\nsomething odd\n") == "something odd"
    assert apply.daemon_error("") == ""


def test_info_mismatches():
    info = {"RegistryConfig": {"Mirrors": ["https://m.lan/"]}, "LiveRestoreEnabled": True, "Debug": False}
    assert apply.info_mismatches({"registry-mirrors": ["https://m.lan/"], "live-restore": True}, info) == []
    assert apply.info_mismatches({"live-restore": False, "debug": True}, info) == [
        "registry-mirrors: asked [], running ['https://m.lan/']",
        "live-restore: asked False, running True",
        "debug: asked True, running False"]


def test_previous_files_are_kept_once_and_restored(tmp_path):
    daemon_json, drop_in = tmp_path / "daemon.json", tmp_path / "berth.conf"
    daemon_json.write_text('{"debug": true}\n')
    os.chmod(str(daemon_json), 0o600)
    state_dir = str(tmp_path / "state")
    first = state.record_change(state_dir, "reload", [str(daemon_json), str(drop_in)])
    assert first["action"] == "reload"
    assert first["files"][str(drop_in)] is None
    daemon_json.write_text('{"debug": false}\n')
    drop_in.write_text("[Service]\n")
    second = state.record_change(state_dir, "restart", [str(daemon_json), str(drop_in)])
    assert second["action"] == "restart"
    assert state.read_pending(state_dir) == second
    assert stat.S_IMODE(os.stat(state_dir).st_mode) == 0o700
    restored = state.restore_previous(second)
    assert restored == sorted([str(daemon_json), str(drop_in)])
    assert daemon_json.read_text() == '{"debug": true}\n'
    assert stat.S_IMODE(os.stat(str(daemon_json)).st_mode) == 0o600
    assert not drop_in.exists()
    state.clear_pending(state_dir)
    assert state.read_pending(state_dir) is None
    assert os.listdir(state_dir) == []


def test_stronger_action():
    assert state.stronger("reload", "restart") == "restart"
    assert state.stronger("restart", "reload") == "restart"
    assert state.stronger("none", "reload") == "reload"


FAKE_DOCKERD = """#!/bin/sh
# Stands in for Engine 24's dockerd, which cannot be installed here: --version and --validate only.
echo "$@" >> "%(log)s"
case "$1" in --version) echo "Docker version 24.0.7, build afdd53b"; exit 0;; esac
for last; do :; done
if grep -q '"log-level": "loud"' "$last"; then
  echo "unable to configure the Docker daemon with file $last: invalid log level: loud" >&2; exit 1
fi
echo "configuration OK"
"""


def host(tmp_path):
    """A docker.service fragment naming a fake 24.0 dockerd, and a runner where only systemctl is answered here."""
    log = tmp_path / "dockerd-argv.log"
    dockerd = tmp_path / "dockerd"
    dockerd.write_text(FAKE_DOCKERD % {"log": log})
    os.chmod(str(dockerd), 0o755)
    fragment = tmp_path / "docker.service"
    fragment.write_text("[Service]\nExecStart=%s -H fd:// --containerd=/run/containerd/containerd.sock\n" % dockerd)
    calls = []

    def run(argv):
        if argv[0] == "systemctl":
            calls.append(argv)
            return 0, "FragmentPath=%s\nDropInPaths=\nActiveState=active\nMainPID=10\n" % fragment, ""
        return subprocess_runner(argv)

    params = {"unix_socket": "/var/run/docker.sock", "path": str(tmp_path / "etc" / "daemon.json"),
              "drop_in": str(tmp_path / "docker.service.d" / "berth.conf"), "state_dir": str(tmp_path / "state"),
              "http_proxy": "http://u:secret@proxy.lan:3128"}
    return params, run, log, dockerd, calls


def test_engine_24_validates_the_candidate_with_the_unit_flags(tmp_path):
    params, run, log, dockerd, calls = host(tmp_path)
    result = manager.converge(params, run, check_mode=False)
    assert (result["engine_version"], result["validated_by_dockerd"], result["action"]) == (
        "24.0.7", "configuration OK", "restart")
    argv_lines = log.read_text().splitlines()
    assert argv_lines[0] == "--version"
    assert argv_lines[1].startswith("--containerd=/run/containerd/containerd.sock --validate --config-file ")
    assert "/.berth-candidate-" in argv_lines[1]
    written = json.loads((tmp_path / "etc" / "daemon.json").read_text())
    assert written["proxies"] == {"http-proxy": "http://u:secret@proxy.lan:3128"}
    assert stat.S_IMODE(os.stat(params["path"]).st_mode) == 0o600
    assert ["systemctl", "daemon-reload"] in calls
    assert sorted(os.listdir(str(tmp_path / "etc"))) == ["daemon.json"]
    assert "secret" not in json.dumps(result)
    again = manager.converge(params, run, check_mode=True)
    assert (again["changed"], again["action"], again["pending_from_earlier_run"]) == (True, "restart", True)
    state.clear_pending(params["state_dir"])
    assert manager.converge(params, run, check_mode=True)["changed"] is False


def test_engine_24_validate_refusal_writes_nothing(tmp_path):
    params, run, log, dockerd, calls = host(tmp_path)
    params["options"] = {"log-level": "loud"}
    try:
        manager.converge(params, run, check_mode=False)
        raise AssertionError("dockerd --validate should have refused")
    except DockerdConfigError as exc:
        assert str(exc) == ("%s: dockerd --validate refused the new configuration: unable to configure the Docker "
                            "daemon with file %s: invalid log level: loud" % (params["path"], params["path"]))
    assert not os.path.exists(params["path"])
    assert not os.path.exists(params["drop_in"])
    assert not os.path.exists(params["state_dir"])


def test_engine_20_is_not_run_with_validate(tmp_path):
    params, run, log, dockerd, calls = host(tmp_path)
    params["engine_version"] = "20.10.24+dfsg1"
    result = manager.converge(params, run, check_mode=True)
    assert (result["engine_version"], result["validated_by_dockerd"]) == ("20.10.24", None)
    assert not log.exists()
    assert not os.path.exists(params["path"])


def test_check_mode_before_the_engine_is_installed_predicts_for_the_packaged_unit(tmp_path):
    params, _, _, _, _ = host(tmp_path)

    def run(argv):
        if argv[:2] == ["systemctl", "show"]:
            if argv[2] == "--property=LoadState":
                return 0, "LoadState=not-found\n", ""
            return 0, "FragmentPath=\nDropInPaths=\nActiveState=inactive\nMainPID=0\n", ""
        raise AssertionError("nothing else may run: %s" % argv)

    result = manager.converge(params, run, check_mode=True)
    assert (result["changed"], result["action"], result["engine_version"]) == (True, "restart", None)
    assert result["warnings"] == [
        "docker.service is not installed yet: predicted for the packaged unit (/usr/bin/dockerd -H fd:// "
        "--containerd=/run/containerd/containerd.sock), keys not checked against an engine version"]
    assert not os.path.exists(params["path"])
    try:
        manager.converge(params, run, check_mode=False)
        raise AssertionError("a real run must refuse without the engine")
    except DockerdConfigError as exc:
        assert str(exc) == ("docker.service: the unit is not installed; install the engine first "
                            "(the docker_host role)")
