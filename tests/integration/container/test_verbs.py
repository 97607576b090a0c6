"""The remaining verbs and flags: --privileged, --entrypoint, restart, stats, inspect."""
import json


def host_bounding_set():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("CapBnd:"):
                return line.split()[1]
    raise AssertionError("no CapBnd")


def test_privileged_keeps_host_caps_and_unmasks(env, image):
    out = env.berth("run", "--rm", "--network", "none", "--privileged", image, "sh", "-c",
                    "grep -E 'CapEff|NoNewPrivs|Seccomp:' /proc/self/status; "
                    "grep -c ' /proc/keys ' /proc/mounts; grep ' /sys ' /proc/mounts | cut -d' ' -f4 "
                    "| cut -d, -f1").stdout.splitlines()
    assert out == ["CapEff:\t%s" % host_bounding_set(), "NoNewPrivs:\t0", "Seccomp:\t0", "0", "rw"]


def test_entrypoint_and_cmd(env, image):
    out = env.berth("run", "--rm", "--network", "none", "--entrypoint", "echo", image,
                    "from", "entrypoint").stdout
    assert out == "from entrypoint\n"
    default = env.berth("run", "--rm", "--network", "none", "-i", image, input="echo via-stdin\n")
    assert default.stdout == "via-stdin\n"  # the image's CMD ["sh"], reading stdin


def test_restart_verb_kill_signal_and_start(env, image):
    env.berth("run", "-d", "--name", "again", "--network", "none", image, "sh", "-c",
              "echo run; sleep 300")
    first = env.inspect("again")["State"]["Pid"]
    env.berth("restart", "-t", "1", "again")
    record = env.inspect("again")
    assert record["State"]["Status"] == "running"
    assert record["State"]["Pid"] != first
    assert env.berth("logs", "again").stdout == "run\nrun\n"
    env.berth("kill", "-s", "TERM", "again")  # sh as pid 1 ignores TERM without a handler
    assert env.inspect("again")["State"]["Status"] == "running"
    env.berth("kill", "again")
    assert env.berth("wait", "again").stdout == "137\n"
    env.berth("start", "again")
    assert env.inspect("again")["State"]["Status"] == "running"


def test_stats_no_stream(env, image):
    env.berth("run", "-d", "--name", "measured", "--network", "none", "--memory", "64m", image,
              "sleep", "300")
    rows = env.berth("stats", "--no-stream").stdout.splitlines()
    assert rows[0].split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT",
                               "MEM", "%", "PIDS"]
    fields = rows[1].split()
    assert fields[1] == "measured"
    assert fields[5] == "64MiB"
    assert fields[-1] == "1"


def test_inspect_format_and_image_fallback(env, image):
    cid = env.berth("create", "--name", "shape", "--network", "none", image, "true").stdout.strip()
    assert env.berth("inspect", "-f", "{{.Name}} {{.State.Status}} {{.HostConfig.PidsLimit}}",
                     "shape").stdout == "/shape created 4096\n"
    both = env.berth("inspect", "shape").stdout
    assert json.loads(both)[0]["Id"] == cid
    as_image = json.loads(env.berth("inspect", image).stdout)
    assert as_image[0]["RepoTags"] == ["busybox:test"]
    missing = env.berth("inspect", "nothing-here", check=False)
    assert missing.returncode == 1
    refused = env.berth("rmi", image, check=False)
    assert refused.returncode != 0 and "container" in refused.stderr
