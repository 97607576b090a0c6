"""Restart policies after a killed supervisor or a reboot, as dockerd applies them when it starts.

A crash is the supervisor and the container processes SIGKILLed; a reboot is that plus a new
boot id (BERTH_BOOT_ID_PATH points the runtime at a file the test writes, instead of
/proc/sys/kernel/random/boot_id).
"""
import os
import signal
import time

from berth.runtime.container import manager, state


def wait_for(predicate, timeout=20, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    raise AssertionError("condition not met within %ss" % timeout)


def gone(pid):
    return not state.process_alive(pid, None)


def crash(env, names):
    """SIGKILL the supervisor, then every listed container's pid 1: what a power cut leaves."""
    supervisor = env.supervisor_pid()
    pids = [env.inspect(name)["State"]["Pid"] for name in names]
    os.kill(supervisor, signal.SIGKILL)
    wait_for(lambda: gone(supervisor))
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    for pid in pids:
        wait_for(lambda pid=pid: gone(pid))
    return dict(zip(names, pids))


def run_detached(env, image, name, policy, *command):
    env.berth("run", "-d", "--name", name, "--network", "none", "--restart", policy, image,
              *(command or ("sleep", "300")))


def test_policies_after_a_killed_supervisor(env, image):
    run_detached(env, image, "always", "always")
    run_detached(env, image, "never", "no")
    run_detached(env, image, "unless", "unless-stopped")
    run_detached(env, image, "stopped", "unless-stopped")
    run_detached(env, image, "killed", "unless-stopped")
    run_detached(env, image, "retry", "on-failure:5")
    run_detached(env, image, "spent", "on-failure:2", "sh", "-c", "exit 3")
    wait_for(lambda: env.inspect("spent")["RestartCount"] == 2 and not env.inspect("spent")["State"]["Running"])
    env.berth("stop", "-t", "0", "stopped")
    env.berth("kill", "killed")
    stopped_state = env.inspect("stopped")["State"]
    old = crash(env, ["always", "never", "unless", "retry"])

    rows = env.berth("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.split("\n")
    assert sorted(r for r in rows if r) == sorted([
        "always running", "never exited", "unless running", "stopped exited", "killed exited",
        "retry running", "spent exited"])
    for name in ("always", "unless", "retry"):
        current = env.inspect(name)
        assert current["State"]["Pid"] not in (0, old[name])
        assert current["RestartCount"] == 0  # dockerd resets it when it starts a container itself
        assert env.berth("exec", name, "cat", "/proc/1/cmdline").stdout == "sleep\x00300\x00"
    never = env.inspect("never")["State"]
    assert (never["Running"], never["Pid"], never["ExitCode"]) == (False, 0, 255)
    assert never["Error"] == "container process disappeared with its supervisor"
    assert env.inspect("stopped")["State"]["ExitCode"] == stopped_state["ExitCode"] == 137
    assert env.inspect("killed")["State"]["ExitCode"] == 137
    spent = env.inspect("spent")
    assert (spent["State"]["ExitCode"], spent["RestartCount"]) == (3, 2)
    # the restored containers are supervised again: their exit is recorded, not lost
    env.berth("stop", "-t", "0", "always")
    assert env.inspect("always")["State"]["ExitCode"] == 137


def test_boot_verb_after_a_reboot(env, image, tmp_path):
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("11111111-1111-1111-1111-111111111111\n")
    env.env["BERTH_BOOT_ID_PATH"] = str(boot_id)
    run_detached(env, image, "always", "always")
    run_detached(env, image, "once", "no")
    run_detached(env, image, "user-stopped-always", "always")
    run_detached(env, image, "user-stopped-unless", "unless-stopped")
    env.berth("stop", "-t", "0", "user-stopped-always")
    env.berth("stop", "-t", "0", "user-stopped-unless")
    old = crash(env, ["always", "once"])
    boot_id.write_text("22222222-2222-2222-2222-222222222222\n")

    result = env.berth("system", "boot")
    # as dockerd at boot: a manually stopped `always` container starts again, unless-stopped not
    assert sorted(result.stdout.split()) == ["always", "user-stopped-always"]
    assert env.inspect("always")["State"]["Pid"] not in (0, old["always"])
    once = env.inspect("once")["State"]
    assert (once["Status"], once["ExitCode"]) == ("exited", 255)
    assert once["Error"] == "the host rebooted while the container ran"
    assert env.inspect("user-stopped-unless")["State"]["Status"] == "exited"
    record = state.read_supervisor_record(env.root)
    assert record["BootId"] == "22222222-2222-2222-2222-222222222222" and record["Clean"] is False
    assert record["Pid"] == env.supervisor_pid()


def test_an_idle_exit_is_no_restart(env, image, tmp_path, monkeypatch):
    """A supervisor that exited cleanly in this boot leaves stopped containers alone."""
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("33333333-3333-3333-3333-333333333333\n")
    env.env["BERTH_BOOT_ID_PATH"] = str(boot_id)
    monkeypatch.setenv("BERTH_BOOT_ID_PATH", str(boot_id))
    run_detached(env, image, "always", "always")
    env.berth("stop", "-t", "0", "always")
    supervisor = env.supervisor_pid()
    manager.Manager(env.root).shutdown_supervisor()
    wait_for(lambda: gone(supervisor))
    assert state.read_supervisor_record(env.root)["Clean"] is True
    assert not state.supervisor_restore_due(env.root)
    assert env.berth("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout == "always exited\n"
    assert env.supervisor_pid() is None
    boot_id.write_text("44444444-4444-4444-4444-444444444444\n")
    assert state.supervisor_restore_due(env.root)
    assert env.berth("ps", "--format", "{{.Names}} {{.State}}").stdout == "always running\n"


def test_a_restored_bridge_container_gets_its_network_back(env, image):
    """The dead container's address, veth and port rules are freed before it starts again."""
    from tests.integration.container.test_network import SERVE, links_on, rules_mentioning, wait_http
    env.berth("run", "-d", "--name", "web", "--restart", "always", "-p", "18482:8080", image,
              "sh", "-c", SERVE)
    before = env.inspect("web")
    assert wait_http("http://127.0.0.1:18482/").startswith("hello-from-")
    crash(env, ["web"])
    env.berth("system", "boot")
    after = env.inspect("web")
    assert after["State"]["Running"] and after["State"]["Pid"] != before["State"]["Pid"]
    assert after["NetworkSettings"]["IPAddress"] == before["NetworkSettings"]["IPAddress"]
    assert links_on(env.bridge) == ["veth" + after["Id"][:10]]
    assert len(rules_mentioning("--dport 18482")) == 1
    assert wait_http("http://127.0.0.1:18482/").startswith("hello-from-")
