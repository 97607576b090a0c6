"""Lifecycle and supervision: detach, stop, kill, logs, wait, restart, ps, rm."""
import json
import os
import signal
import subprocess
import time


def wait_for(predicate, timeout=20, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met within %ss" % timeout)


def test_detached_container_outlives_the_cli(env, image):
    cid = env.berth("run", "-d", "--name", "sleeper", "--network", "none", image,
                    "sleep", "300").stdout.strip()
    assert len(cid) == 64
    record = env.inspect("sleeper")
    assert record["State"]["Status"] == "running"
    pid = record["State"]["Pid"]
    assert os.path.exists("/proc/%d" % pid)
    with open("/proc/%d/status" % pid) as handle:
        ppid = [line.split()[1] for line in handle if line.startswith("PPid:")][0]
    assert int(ppid) == env.supervisor_pid()
    rows = env.berth("ps", "--format", "{{.Names}} {{.State}}").stdout
    assert rows == "sleeper running\n"
    env.berth("kill", "sleeper")
    assert env.berth("wait", "sleeper").stdout == "137\n"
    assert env.inspect("sleeper")["State"]["Status"] == "exited"


def test_a_client_gone_mid_stream_leaves_the_supervisor_serving(env, image):
    """`berth run ... | head -1`: the CLI exits with output still coming, a send to it fails
    and the supervisor drops it; the same round of events then reports that socket readable.
    The supervisor must shrug that off, remove the --rm containers and keep serving."""
    env.berth("run", "--rm", "--network", "none", image, "true")
    supervisor = env.supervisor_pid()
    for _ in range(10):
        head = subprocess.run("%s | head -1" % " ".join(env.command(
            "run", "--rm", "--network", "none", image, "seq", "1", "200000")), shell=True,
            env=env.env, stdout=subprocess.PIPE, universal_newlines=True, timeout=60, check=False)
        assert head.stdout == "1\n"
    assert env.supervisor_pid() == supervisor
    wait_for(lambda: env.berth("ps", "-aq").stdout == "")
    with open(os.path.join(env.root, "supervisor.log")) as handle:
        assert "Traceback" not in handle.read()


def test_stop_kills_after_timeout_when_sigterm_is_ignored(env, image):
    env.berth("run", "-d", "--name", "stubborn", "--network", "none", image,
              "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done")
    wait_for(lambda: "ready" in env.berth("logs", "stubborn").stdout)
    env.berth("stop", "-t", "1", "stubborn")
    state = env.inspect("stubborn")["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 137)


def test_stop_lets_a_term_handler_exit(env, image):
    env.berth("run", "-d", "--name", "polite", "--network", "none", image,
              "sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done")
    wait_for(lambda: "ready" in env.berth("logs", "polite").stdout)
    env.berth("stop", "-t", "20", "polite")
    assert env.inspect("polite")["State"]["ExitCode"] == 7


def test_killed_supervisor_leaves_the_truth(env, image):
    env.berth("run", "-d", "--name", "orphan", "--network", "none", image, "sleep", "300")
    supervisor = env.supervisor_pid()
    pid = env.inspect("orphan")["State"]["Pid"]
    os.kill(supervisor, signal.SIGKILL)
    from berth.runtime.container.state import process_alive
    wait_for(lambda: not process_alive(supervisor, None))
    # the container process is alive, so it is reported running
    assert env.berth("ps", "--format", "{{.Names}} {{.State}}").stdout == "orphan running\n"
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: env.inspect("orphan")["State"]["Status"] == "exited")
    state = env.inspect("orphan")["State"]
    assert (state["Running"], state["ExitCode"], state["Pid"]) == (False, 255, 0)
    assert env.berth("ps", "-q").stdout == ""


def test_logs_are_docker_json_lines(env, image):
    env.berth("run", "--name", "talker", "--network", "none", image,
              "sh", "-c", "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three")
    result = env.berth("logs", "talker")
    assert result.stdout == "one\nthree\n"
    assert result.stderr == "two\n"
    assert env.berth("logs", "--tail", "1", "talker").stdout == "three\n"
    stamped = env.berth("logs", "-t", "talker").stdout.splitlines()
    assert stamped[0].endswith("Z one") and len(stamped[0].split()[0]) == 30
    with open(env.inspect("talker")["LogPath"]) as handle:
        entries = [json.loads(line) for line in handle]
    assert [(e["stream"], e["log"]) for e in entries] == [
        ("stdout", "one\n"), ("stderr", "two\n"), ("stdout", "three\n")]
    assert env.berth("logs", "--since", "1h", "talker").stdout == "one\nthree\n"
    assert env.berth("logs", "--since", str(int(time.time()) + 60), "talker").stdout == ""


def test_logs_follow_ends_with_the_container(env, image):
    env.berth("run", "-d", "--name", "ticker", "--network", "none", image,
              "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.2; done")
    assert env.berth("logs", "-f", "ticker").stdout == "tick 1\ntick 2\ntick 3\n"


def test_restart_on_failure_counts(env, image):
    env.berth("run", "-d", "--name", "flaky", "--network", "none", "--restart", "on-failure:2",
              image, "sh", "-c", "echo attempt; exit 3")
    wait_for(lambda: env.inspect("flaky")["RestartCount"] == 2 and
             env.inspect("flaky")["State"]["Status"] == "exited")
    time.sleep(1.0)  # a third start would have happened by now (backoff 0.4 s)
    record = env.inspect("flaky")
    assert (record["RestartCount"], record["State"]["ExitCode"]) == (2, 3)
    assert env.berth("logs", "flaky").stdout == "attempt\n" * 3


def test_restart_always_is_stopped_by_stop(env, image):
    env.berth("run", "-d", "--name", "phoenix", "--network", "none", "--restart", "always",
              image, "sh", "-c", "sleep 0.2")
    wait_for(lambda: env.inspect("phoenix")["RestartCount"] >= 1)
    env.berth("stop", "-t", "1", "phoenix")
    count = env.inspect("phoenix")["RestartCount"]
    time.sleep(1.0)
    record = env.inspect("phoenix")
    assert (record["State"]["Status"], record["RestartCount"]) == ("exited", count)


def test_ps_flags_and_filters(env, image):
    env.berth("create", "--name", "made", "--label", "tier=web", image, "true")
    assert env.berth("run", "--name", "done", "--network", "none", image, "sh", "-c", "exit 2",
                     check=False).returncode == 2
    env.berth("run", "-d", "--name", "live", "--network", "none", image, "sleep", "300")
    assert env.berth("ps", "--format", "{{.Names}}").stdout == "live\n"
    assert env.berth("ps", "-a", "--format", "{{.Names}}").stdout == "live\ndone\nmade\n"
    assert env.berth("ps", "-a", "-n", "2", "--format", "{{.Names}}").stdout == "live\ndone\n"
    assert env.berth("ps", "-l", "--format", "{{.Names}}").stdout == "live\n"
    assert env.berth("ps", "-a", "-f", "status=exited", "--format", "{{.Names}} {{.Status}}") \
        .stdout.startswith("done Exited (2) ")
    assert env.berth("ps", "-a", "-f", "label=tier=web", "-q").stdout == \
        env.inspect("made")["Id"][:12] + "\n"
    assert env.berth("ps", "-a", "-f", "name=mad", "--no-trunc", "-q").stdout == \
        env.inspect("made")["Id"] + "\n"
    assert env.berth("ps", "-a", "-f", "ancestor=busybox:test", "-q").stdout.count("\n") == 3
    table = env.berth("ps", "-a").stdout.splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                                "NAMES"]
    assert "Created" in [row for row in table if row.endswith("made")][0]
    sized = env.berth("ps", "-s", "--format", "{{.Names}} {{.Size}}").stdout
    assert sized.startswith("live ") and "virtual" in sized


def test_rm_rename_prune_and_cidfile(env, image, tmp_path):
    cidfile = str(tmp_path / "cid")
    env.berth("create", "--name", "first", "--cidfile", cidfile, image, "true")
    with open(cidfile) as handle:
        assert handle.read() == env.inspect("first")["Id"]
    env.berth("rename", "first", "second")
    assert env.inspect("second")["Name"] == "/second"
    env.berth("run", "-d", "--name", "busy", "--network", "none", image, "sleep", "300")
    refused = env.berth("rm", "busy", check=False)
    assert refused.returncode == 1 and "You cannot remove a running container" in refused.stderr
    second = env.inspect("second")["Id"]
    assert env.berth("container", "prune", "-f").stdout == (
        "Deleted Containers:\n%s\n\nTotal reclaimed space: 0B\n" % second)
    assert env.berth("ps", "-a", "--format", "{{.Names}}").stdout == "busy\n"
    env.berth("rm", "-f", "busy")
    assert env.berth("ps", "-aq").stdout == ""


def test_volumes_named_anonymous_and_bind(env, image, tmp_path):
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "in.txt").write_text("from host\n")
    env.berth("run", "--name", "vols", "--network", "none", "-v", "%s:/mnt/host:ro" % host_dir,
              "-v", "named:/data", "-v", "/scratch", image, "sh", "-c",
              "cat /mnt/host/in.txt; echo x > /mnt/host/no 2>/dev/null || echo read-only; "
              "echo kept > /data/f; echo tmp > /scratch/f")
    assert env.berth("logs", "vols").stdout == "from host\nread-only\n"
    mounts = {m["Destination"]: m for m in env.inspect("vols")["Mounts"]}
    assert mounts["/mnt/host"]["RW"] is False
    anonymous = os.path.dirname(mounts["/scratch"]["Source"])
    named = os.path.dirname(mounts["/data"]["Source"])
    assert os.path.exists(os.path.join(anonymous, "_data", "f"))
    env.berth("rm", "-v", "vols")
    assert not os.path.exists(anonymous)
    with open(os.path.join(named, "_data", "f")) as handle:
        assert handle.read() == "kept\n"
    again = env.berth("run", "--rm", "--network", "none", "-v", "named:/data", image, "cat", "/data/f")
    assert again.stdout == "kept\n"


def test_exec_options(env, image):
    env.berth("run", "-d", "--name", "target", "--network", "none", "-e", "BASE=1", image,
              "sleep", "300")
    out = env.berth("exec", "-e", "EXTRA=2", "-u", "user", "-w", "/tmp", "target", "sh", "-c",
                    "echo $BASE$EXTRA; id -u; pwd; hostname; grep -E 'NoNewPrivs|Seccomp:' "
                    "/proc/self/status; cat /proc/1/cmdline").stdout
    assert out.splitlines()[:4] == ["12", "1000", "/tmp", env.inspect("target")["Id"][:12]]
    assert "NoNewPrivs:\t1" in out and "Seccomp:\t2" in out
    assert out.endswith("sleep\x00300\x00")
    assert env.berth("exec", "target", "sh", "-c", "exit 4", check=False).returncode == 4
    env.berth("exec", "-d", "target", "sh", "-c", "echo detached > /tmp/marker")
    wait_for(lambda: env.berth("exec", "target", "cat", "/tmp/marker", check=False).stdout ==
             "detached\n")
    top = env.berth("top", "target").stdout.splitlines()
    assert top[0].split() == ["UID", "PID", "PPID", "CMD"]
    assert any(row.endswith("sleep 300") for row in top[1:])
