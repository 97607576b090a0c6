"""Runs inside the cgroup-v2 guest (tests/support/cgroup2_vm.py) as the test's eyes there.

It drives berth's real CLI on a busybox image and records what it sees: control file contents,
exit codes, inspect output, cpu.stat readings. It asserts nothing: the host's tests do, from the
JSON report this prints on stdout (one line). A step that raises is reported with its traceback,
so one broken step does not hide the others.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
BERTH = os.path.join(HERE, "bin", "berth")
BUSYBOX = os.path.join(HERE, "busybox")
CGROUP = "/sys/fs/cgroup"
PARENT = "berth"
IMAGE = "busybox:test"
APPLETS = ("sh", "true", "sleep", "head", "tr", "echo", "cat", "mknod", "wc", "seq")
HOG = "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"


def berth(*args, **kwargs):
    timeout = kwargs.pop("timeout", 120)
    result = subprocess.run([sys.executable, BERTH] + [str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout, check=False)
    return {"rc": result.returncode, "out": result.stdout, "err": result.stderr[-2000:]}


def started(*args):
    """berth run -d ...: the container id, or an exception naming berth's error."""
    result = berth("run", "-d", "--network", "none", *args)
    if result["rc"] != 0:
        raise RuntimeError("berth run %s failed: %r" % (" ".join(args), result))
    return result["out"].strip()


def inspect(ref):
    result = berth("inspect", ref)
    return json.loads(result["out"])[0] if result["rc"] == 0 else None


def group(cid):
    return os.path.join(CGROUP, PARENT, cid)


def read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError as exc:
        return "<%s>" % exc.strerror


def files(cid, names):
    return {name: read(os.path.join(group(cid), name)) for name in names}


def cpu_stat(cid):
    lines = read(os.path.join(group(cid), "cpu.stat")).splitlines()
    return dict((line.split()[0], int(line.split()[1])) for line in lines)


def removed(cid):
    """Remove the container and say whether its cgroup directory is gone afterwards."""
    result = berth("rm", "-f", cid)
    return {"rm_rc": result["rc"], "cgroup_exists_after_rm": os.path.exists(group(cid))}


def check_host():
    """The guest is what the tests need: a unified hierarchy with the controllers on."""
    sys.path.insert(0, os.path.join(HERE, "module_utils"))
    from berth.runtime.container import cgroups
    mounts = [line.split()[:3] for line in read("/proc/self/mounts").splitlines()]
    return {"kernel": os.uname().release,
            "cgroup_fs": [m[2] for m in mounts if m[1] == CGROUP],
            "controllers": read(os.path.join(CGROUP, "cgroup.controllers")).split(),
            "subtree_control": read(os.path.join(CGROUP, "cgroup.subtree_control")).split(),
            "detect_version": cgroups.detect_version(),
            "swap_total_kb": [line.split()[1] for line in read("/proc/meminfo").splitlines()
                              if line.startswith("SwapTotal:")][0]}


def check_import():
    """A busybox image imported with `berth import`, as the container tests build theirs."""
    work = tempfile.mkdtemp()
    try:
        rootfs = os.path.join(work, "rootfs")
        for name in ("bin", "etc", "proc", "sys", "dev", "tmp", "root"):
            os.makedirs(os.path.join(rootfs, name))
        shutil.copy2(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
        for applet in APPLETS:
            os.symlink("busybox", os.path.join(rootfs, "bin", applet))
        with open(os.path.join(rootfs, "etc", "passwd"), "w") as handle:
            handle.write("root:x:0:0:root:/root:/bin/sh\n")
        tar = os.path.join(work, "busybox.tar")
        with tarfile.open(tar, "w") as archive:
            archive.add(rootfs, arcname=".")
        return berth("import", "-c", 'CMD ["sh"]', tar, IMAGE)
    finally:
        shutil.rmtree(work)


def check_limits():
    """Every flag at once, the files it lands in, where the container's pid sits, removal."""
    cid = started("--memory", "64m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "50",
                  IMAGE, "sleep", "300")
    pid = inspect(cid)["State"]["Pid"]
    facts = {"cid": cid, "pid": pid, "proc_cgroup": read("/proc/%d/cgroup" % pid),
             "files": files(cid, ("memory.max", "memory.swap.max", "cpu.max", "cpu.weight", "pids.max",
                                  "cgroup.procs")),
             "parent_subtree_control": read(os.path.join(CGROUP, PARENT, "cgroup.subtree_control")).split(),
             "stats": berth("stats", "--no-stream", cid)}
    facts.update(removed(cid))
    return facts


def check_default_pids():
    cid = started(IMAGE, "sleep", "300")
    facts = {"files": files(cid, ("pids.max", "memory.max", "memory.swap.max", "cpu.max", "cpu.weight"))}
    facts.update(removed(cid))
    return facts


def check_swap_forms():
    """--memory-swap given explicitly and as -1 (unlimited)."""
    out = {}
    for label, flags in (("total_48m", ("--memory", "32m", "--memory-swap", "48m")),
                         ("unlimited", ("--memory", "32m", "--memory-swap", "-1"))):
        cid = started(*(flags + (IMAGE, "sleep", "300")))
        out[label] = files(cid, ("memory.max", "memory.swap.max"))
        out[label].update(removed(cid))
    return out


def check_oom_run():
    """A memory hog in the foreground: its exit code and what inspect says of it."""
    result = berth("run", "--name", "hog", "--network", "none", "--memory", "16m", IMAGE, "sh", "-c", HOG)
    record = inspect("hog") or {}
    facts = {"rc": result["rc"], "out": result["out"], "state": record.get("State"),
             "cgroup_exists_after_exit": os.path.exists(group(record.get("Id", "none")))}
    facts.update(removed("hog"))
    return facts


def check_oom_events():
    """The hog in a subshell, so its container lives on and memory.events can be read."""
    cid = started("--memory", "16m", IMAGE, "sh", "-c", "(%s); echo subshell=$?; sleep 300" % HOG)
    deadline = time.time() + 60
    while time.time() < deadline and "subshell=" not in berth("logs", cid)["out"]:
        time.sleep(0.2)
    facts = {"logs": berth("logs", cid)["out"], "files": files(cid, ("memory.events", "memory.max")),
             "running": (inspect(cid) or {}).get("State", {}).get("Running")}
    facts.update(removed(cid))
    return facts


def check_fork_bomb():
    """A fork bomb against --pids-limit 30; the guest must still start processes and answer."""
    cid = started("--pids-limit", "30", IMAGE, "sh", "-c", "bomb() { bomb | bomb & }; bomb; sleep 300")
    events = os.path.join(group(cid), "pids.events")
    deadline = time.time() + 30
    while time.time() < deadline and read(events) == "max 0":
        time.sleep(0.05)
    facts = {"files": files(cid, ("pids.events", "pids.current", "pids.max"))}
    began = time.time()
    facts["host_true_rc"] = subprocess.run(["/bin/true"], check=False, timeout=60).returncode
    facts["ps"] = berth("ps", "-q", timeout=60)
    facts["cid"] = cid
    facts["responsive_seconds"] = round(time.time() - began, 3)
    facts.update(removed(cid))
    return facts


def check_cpus():
    """--cpus 0.5 against a busy loop: cpu.stat's usage over an interval."""
    cid = started("--cpus", "0.5", IMAGE, "sh", "-c", "while :; do :; done")
    time.sleep(0.5)
    first, t0 = cpu_stat(cid), time.time()
    time.sleep(3.0)
    second, t1 = cpu_stat(cid), time.time()
    facts = {"cores": (second["usage_usec"] - first["usage_usec"]) / 1e6 / (t1 - t0),
             "throttled": second.get("nr_throttled", 0) - first.get("nr_throttled", 0),
             "periods": second.get("nr_periods", 0) - first.get("nr_periods", 0),
             "cpu.max": read(os.path.join(group(cid), "cpu.max")),
             "stats": berth("stats", "--no-stream", cid)}
    facts.update(removed(cid))
    return facts


def check_block_device():
    """Device access: v1 writes devices.deny/allow, v2 needs berth's eBPF program. The script makes
    the guest disk's node, reads it, and uses the listed /dev/null and /dev/zero."""
    major_minor = read("/sys/block/vda/dev")
    script = ("mknod /tmp/disk b %s; echo mknod=$?; echo read=$(head -c 512 /tmp/disk 2>/dev/null | wc -c); "
              "echo x > /dev/null && echo zero=$(head -c 4 /dev/zero | wc -c)" % major_minor.replace(":", " "))
    out = {"dev": major_minor}
    for label, flags in (("default", ()), ("privileged", ("--privileged",))):
        out[label] = berth("run", "--rm", "--network", "none", *(flags + (IMAGE, "sh", "-c", script)))
    return out


def check_cgroup_namespace():
    """The container's own view of its cgroup: a private cgroup namespace rooted at its group."""
    return berth("run", "--rm", "--network", "none", IMAGE, "cat", "/proc/self/cgroup")


CHECKS = (check_host, check_import, check_limits, check_cgroup_namespace, check_default_pids, check_swap_forms,
          check_oom_run, check_oom_events, check_fork_bomb, check_cpus, check_block_device)


def main():
    report = {}
    for check in CHECKS:
        began = time.time()
        try:
            report[check.__name__] = check()
        except Exception:  # reported, so the host's test for this step fails with the cause
            report[check.__name__] = {"error": traceback.format_exc()}
        report[check.__name__ + "_seconds"] = round(time.time() - began, 2)
        print("guest: %s done" % check.__name__, file=sys.stderr)
    parent = os.path.join(CGROUP, PARENT)
    report["leftover_cgroups"] = sorted(name for name in os.listdir(parent) if os.path.isdir(
        os.path.join(parent, name))) if os.path.isdir(parent) else []
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
