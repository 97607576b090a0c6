"""cgroup limits hold: memory OOM kill, pids limit against a fork bomb, --cpus quota."""
import os
import time


def cgroup_file(env, cid, controller, name):
    return os.path.join("/sys/fs/cgroup", controller, env.cgroup_parent, cid, name)


def read(path):
    with open(path) as handle:
        return handle.read().strip()


def test_memory_hog_is_oom_killed(env, image):
    result = env.berth("run", "--name", "hog", "--network", "none", "--memory", "16m", image,
                       "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
                       check=False)
    assert result.returncode == 137
    assert "survived" not in result.stdout
    state = env.inspect("hog")["State"]
    assert (state["ExitCode"], state["OOMKilled"]) == (137, True)
    assert env.inspect("hog")["HostConfig"]["MemorySwap"] == 32 * 1024 * 1024


def test_limits_are_written_and_removed(env, image):
    cid = env.berth("run", "-d", "--network", "none", "--memory", "64m", "--cpus", "0.5",
                    "--cpu-shares", "512", "--pids-limit", "50", image, "sleep", "300").stdout.strip()
    assert read(cgroup_file(env, cid, "memory", "memory.limit_in_bytes")) == str(64 << 20)
    assert read(cgroup_file(env, cid, "memory", "memory.memsw.limit_in_bytes")) == str(128 << 20)
    assert read(cgroup_file(env, cid, "cpu", "cpu.cfs_quota_us")) == "50000"
    assert read(cgroup_file(env, cid, "cpu", "cpu.cfs_period_us")) == "100000"
    assert read(cgroup_file(env, cid, "cpu", "cpu.shares")) == "512"
    assert read(cgroup_file(env, cid, "pids", "pids.max")) == "50"
    pid = env.inspect(cid)["State"]["Pid"]
    assert read(cgroup_file(env, cid, "pids", "cgroup.procs")).split() == [str(pid)]
    env.berth("rm", "-f", cid)
    for controller in ("memory", "cpu", "pids", "devices"):
        assert not os.path.exists(os.path.join("/sys/fs/cgroup", controller, env.cgroup_parent, cid))


def test_default_pids_limit_applies(env, image):
    cid = env.berth("run", "-d", "--network", "none", image, "sleep", "300").stdout.strip()
    assert read(cgroup_file(env, cid, "pids", "pids.max")) == "4096"


def test_container_is_in_its_cgroups_and_its_cgroup_namespace_is_rooted_there(env, image):
    """The supervisor moves the child into its cgroups while the child builds its root; the
    child unshares its cgroup namespace only after that, so inside it every cgroup is "/"."""
    cid = env.berth("run", "-d", "--network", "none", image, "sleep", "300").stdout.strip()
    pid = env.inspect(cid)["State"]["Pid"]
    with open("/proc/%d/cgroup" % pid) as handle:
        host_view = dict(line.strip().split(":", 2)[1:] for line in handle)
    inside = dict(line.split(":", 2)[1:] for line in env.berth("exec", cid, "cat", "/proc/self/cgroup")
                  .stdout.splitlines())
    for controller in ("memory", "cpu", "cpuacct", "pids", "devices"):
        if os.path.isdir(os.path.join("/sys/fs/cgroup", controller)):
            assert host_view[controller] == "/%s/%s" % (env.cgroup_parent, cid)
            assert inside[controller] == "/"
    assert read(cgroup_file(env, cid, "memory", "cgroup.procs")).split() == [str(pid)]
    env.berth("rm", "-f", cid)


def test_fork_bomb_stops_at_pids_limit(env, image):
    cid = env.berth("run", "-d", "--network", "none", "--pids-limit", "30", image, "sh", "-c",
                    "bomb() { bomb | bomb & }; bomb; sleep 300").stdout.strip()
    events = cgroup_file(env, cid, "pids", "pids.events")
    deadline = time.time() + 20
    while time.time() < deadline and read(events) == "max 0":
        time.sleep(0.05)
    assert read(events) != "max 0"  # forks were refused at the limit
    assert int(read(cgroup_file(env, cid, "pids", "pids.current"))) <= 30
    started = time.time()
    assert env.berth("ps", "-q").stdout == cid[:12] + "\n"  # the host still answers
    assert time.time() - started < 30
    env.berth("rm", "-f", cid)


def test_cpus_half_holds_a_busy_loop_near_half_a_core(env, image):
    cid = env.berth("run", "-d", "--network", "none", "--cpus", "0.5", image,
                    "sh", "-c", "while :; do :; done").stdout.strip()
    usage = cgroup_file(env, cid, "cpuacct", "cpuacct.usage")
    time.sleep(0.5)
    first, t0 = int(read(usage)), time.time()
    time.sleep(2.0)
    second, t1 = int(read(usage)), time.time()
    share = (second - first) / 1e9 / (t1 - t0)
    assert 0.3 < share < 0.6, share
    env.berth("rm", "-f", cid)
