#!/usr/bin/env python3
"""Container start and supervision cost: berth side by side with docker, crun and runc.

Run as root on a host with Debian's docker.io running (and crun/runc if
installed). One busybox-sized image (Debian's /bin/busybox in an otherwise
empty rootfs) is given to every tool:

* berth: `berth import` into a private store root; `berth run --rm IMG /bin/true`
  through the real CLI, started as a user starts it (bin/berth through its
  shebang, /usr/bin/python3 -IS, so PYTHON* variables such as
  PYTHONDONTWRITEBYTECODE do not apply), with the bridge network and with
  --network none, store, bytecode cache and supervisor warm;
* docker: `docker import` of the same tar; `docker run --rm` with the default
  bridge and with --network none;
* crun / runc: `crun run` / `runc run` on an OCI bundle of the same rootfs
  (`runc spec`, args /bin/true, no terminal), cgroups skipped when crun fails
  on this host's unmounted v1 controllers.

Runs alternate between tools (A B C A B C ...) so background load hits all of
them alike; medians are printed with ratios. Then: 100 idle berth containers
(PSS of berth's own processes from /proc/PID/smaps_rollup, per container)
against idle docker containers (containerd-shim PSS per container), 50 starts
in a row, and `berth ps -a` with 200 containers.

    python3 bench/container_run.py [--runs 15] [--idle 100] [--docker-idle 20]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.dirname(HERE)
BERTH = os.path.join(ROOT_DIR, "bin", "berth")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
DOCKER_IMAGE = "berth-bench-busybox:latest"
APPLETS = ("sh", "true", "sleep", "cat", "echo", "ls")


def make_rootfs(path):
    for name in ("bin", "etc", "proc", "sys", "dev", "tmp"):
        os.makedirs(os.path.join(path, name), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(path, "bin", "busybox"))
    for applet in APPLETS:
        os.symlink("busybox", os.path.join(path, "bin", applet))
    with open(os.path.join(path, "etc", "passwd"), "w") as handle:
        handle.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(path, "etc", "group"), "w") as handle:
        handle.write("root:x:0:\n")


def quiet(argv, env=None, check=True):
    result = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, check=False)
    if check and result.returncode != 0:
        raise SystemExit("%s failed: %s%s" % (" ".join(argv), result.stdout, result.stderr))
    return result


def timed(argv, env=None):
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit("%s failed: %s" % (" ".join(argv), result.stderr.decode()))
    return elapsed


def oci_bundle(path, rootfs, runtime):
    os.makedirs(path, exist_ok=True)
    if not os.path.exists(os.path.join(path, "config.json")):
        quiet(["runc", "spec", "--bundle", path])
    with open(os.path.join(path, "config.json")) as handle:
        config = json.load(handle)
    config["process"]["args"] = ["/bin/true"]
    config["process"]["terminal"] = False
    config["root"] = {"path": rootfs, "readonly": True}
    with open(os.path.join(path, "config.json"), "w") as handle:
        json.dump(config, handle)
    return path


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def environ_has(pid, item):
    try:
        with open("/proc/%d/environ" % pid, "rb") as handle:
            return item.encode() in handle.read().split(b"\0")
    except OSError:
        return False


def pids_named(name):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/comm" % entry) as handle:
                    if handle.read().strip() == name:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def run_in_process(store):
    """What `berth run --rm --network none` costs without starting an interpreter:
    the same supervisor request, sent from this already-running process."""
    from berth.runtime.container import client, protocol
    start = time.perf_counter()
    sock = client.connect(store)
    request = {"op": "run", "name": None, "attach": True, "stdin": False,
               "body": {"Image": "bench:busybox", "Cmd": ["/bin/true"],
                        "HostConfig": {"NetworkMode": "none", "AutoRemove": True}}}
    sock.sendall(json.dumps(request).encode() + b"\n")
    reply = protocol.read_reply(sock)
    if not reply.get("ok"):
        raise SystemExit("in-process run failed: %s" % reply)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    if b"exit" not in data:
        raise SystemExit("no exit frame: %r" % data)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--idle", type=int, default=100)
    parser.add_argument("--docker-idle", type=int, default=20)
    parser.add_argument("--skip-docker", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")

    work = tempfile.mkdtemp(prefix="berth-bench-")
    store = os.path.join(work, "store")
    rootfs = os.path.join(work, "rootfs")
    make_rootfs(rootfs)
    tar_path = os.path.join(work, "busybox.tar")
    with tarfile.open(tar_path, "w") as archive:
        archive.add(rootfs, arcname=".")
    env = dict(os.environ, BERTH_ROOT=store, BERTH_BRIDGE="bbench0", BERTH_BIP="10.199.0.1/20",
               BERTH_CGROUP_PARENT="berth-bench", BERTH_SUPERVISOR_IDLE="60")
    berth = [BERTH]
    try:
        measure(args, work, store, rootfs, tar_path, env, berth)
    finally:
        clean_up(work, store, env, berth)


def measure(args, work, store, rootfs, tar_path, env, berth):
    quiet(berth + ["import", tar_path, "bench:busybox"], env)
    has_docker = not args.skip_docker and quiet(["docker", "version"], check=False).returncode == 0
    if has_docker:
        with open(tar_path, "rb") as handle:
            subprocess.run(["docker", "import", "-", DOCKER_IMAGE], stdin=handle,
                           stdout=subprocess.DEVNULL, check=True)

    cases = [
        ("berth run --rm (bridge)", berth + ["run", "--rm", "bench:busybox", "/bin/true"]),
        ("berth run --rm --network none",
         berth + ["run", "--rm", "--network", "none", "bench:busybox", "/bin/true"]),
    ]
    if has_docker:
        cases += [
            ("docker run --rm (bridge)", ["docker", "run", "--rm", DOCKER_IMAGE, "/bin/true"]),
            ("docker run --rm --network none",
             ["docker", "run", "--rm", "--network", "none", DOCKER_IMAGE, "/bin/true"]),
        ]
    for runtime in ("crun", "runc"):
        if shutil.which(runtime):
            bundle = oci_bundle(os.path.join(work, runtime + "-bundle"), rootfs, runtime)
            argv = [runtime, "run", "--bundle", bundle, "bench-%s" % runtime]
            if quiet(argv, check=False).returncode != 0 and runtime == "crun":
                # crun 1.8 stops on v1 controllers listed but not mounted: run it without cgroups
                argv = [runtime, "--cgroup-manager=disabled", "run", "--bundle", bundle,
                        "bench-%s" % runtime]
                if quiet(argv, check=False).returncode != 0:
                    continue
                cases.append(("crun run (no cgroups: unmounted v1 controllers)", argv))
                continue
            cases.append(("%s run" % runtime, argv))
    cases.append(("python3 -IS -c pass (berth's interpreter start)", [PYTHON, "-IS", "-c", "pass"]))
    cases.append(("kernel floor: unshare -fpmnuiC --mount-proc true",
                  ["unshare", "-fpmnuiC", "--mount-proc", "/bin/true"]))

    sys.path.insert(0, os.path.join(ROOT_DIR, "module_utils"))
    in_process = "berth runtime only (in-process client, --network none)"
    cases.append((in_process, None))
    for _, argv in cases:  # warm every path once (supervisor, bridge, page cache)
        if argv:
            timed(argv, env)
    samples = {name: [] for name, _ in cases}
    for _ in range(args.runs):
        for name, argv in cases:
            samples[name].append(timed(argv, env) if argv else run_in_process(store))
    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    print("\n== start latency, median of %d alternating runs (ms) ==" % args.runs)
    for name, _ in cases:
        print("  %-58s %8.1f" % (name, medians[name]))
    bridge = medians[cases[0][0]]
    none = medians[cases[1][0]]
    if has_docker:
        print("  docker run / berth run (bridge):            %6.2fx" %
              (medians["docker run --rm (bridge)"] / bridge))
        print("  docker run / berth run (--network none):    %6.2fx" %
              (medians["docker run --rm --network none"] / none))
    for name, value in medians.items():
        if name.startswith("crun") or name == "runc run":
            print("  berth --network none / %-22s %6.2fx" % (name.split(" (")[0] + ":", none / value))
            print("  berth runtime only / %-24s %6.2fx" % (name.split(" (")[0] + ":",
                                                         medians[in_process] / value))

    # 50 starts in a row, detached
    start = time.perf_counter()
    for _ in range(50):
        quiet(berth + ["run", "-d", "--network", "none", "bench:busybox", "sleep", "1000"], env)
    fifty = time.perf_counter() - start
    print("\n== 50 detached starts in a row ==\n  berth: %.2f s (%.0f ms each)" % (fifty, fifty * 20))

    # idle containers: berth's own processes
    for _ in range(max(0, args.idle - 50)):
        quiet(berth + ["run", "-d", "--network", "none", "bench:busybox", "sleep", "1000"], env)
    time.sleep(1)
    supervisors = [p for p in pids_named("berth-supervis") if environ_has(p, "BERTH_ROOT=" + store)]
    pss = sum(pss_kb(p) for p in supervisors)
    rss = sum(rss_kb(p) for p in supervisors)
    count = len(quiet(berth + ["ps", "-q"], env).stdout.split())
    print("\n== %d idle containers ==" % count)
    print("  berth supervisor processes: %d, PSS %.1f MB total, %.3f MB per container "
          "(RSS %.1f MB total)" % (len(supervisors), pss / 1024.0, pss / 1024.0 / count, rss / 1024.0))

    # ps with 200 containers (the rest created, not started)
    for _ in range(200 - count):
        quiet(berth + ["create", "--network", "none", "bench:busybox", "true"], env)
    ps_times = [timed(berth + ["ps", "-a"], env) for _ in range(5)]
    rows = len(quiet(berth + ["ps", "-a", "-q"], env).stdout.split())
    print("\n== berth ps -a with %d containers ==\n  median %.0f ms" %
          (rows, statistics.median(ps_times) * 1000))

    if has_docker and args.docker_idle:
        before = set(pids_named("containerd-shim"))
        ids = [quiet(["docker", "run", "-d", "--network", "none", DOCKER_IMAGE, "sleep", "1000"])
               .stdout.strip() for _ in range(args.docker_idle)]
        time.sleep(1)
        shims = [p for p in pids_named("containerd-shim") if p not in before]
        shim_pss = sum(pss_kb(p) for p in shims)
        shim_rss = sum(rss_kb(p) for p in shims)
        print("\n== %d idle docker containers ==\n  containerd-shim processes: %d, PSS %.2f MB per "
              "container (RSS %.1f MB per container)" % (
                  len(ids), len(shims), shim_pss / 1024.0 / max(1, len(ids)),
                  shim_rss / 1024.0 / max(1, len(ids))))
        print("  berth per-container PSS / containerd-shim per-container PSS: %.3f" % (
            (pss / 1024.0 / count) / (shim_pss / 1024.0 / max(1, len(ids))) if shim_pss else 0))
        quiet(["docker", "rm", "-f"] + ids)


def clean_up(work, store, env, berth):
    """Remove every container, the bridge, cgroups, the docker image and the work dir."""
    ids = quiet(berth + ["ps", "-aq", "--no-trunc"], env, check=False).stdout.split()
    for cid in ids:
        quiet(berth + ["rm", "-f", cid], env, check=False)
    sys.path.insert(0, os.path.join(ROOT_DIR, "module_utils"))
    from berth.runtime.network.bridge import BridgeNetwork
    BridgeNetwork(store, "bbench0", "10.199.0.1/20").teardown()
    for pid in pids_named("berth-supervis"):
        if environ_has(pid, "BERTH_ROOT=" + store):
            try:
                os.kill(pid, 15)
            except OSError:
                pass
    for controller in os.listdir("/sys/fs/cgroup"):
        path = os.path.join("/sys/fs/cgroup", controller, "berth-bench")
        if os.path.isdir(path):
            try:
                os.rmdir(path)
            except OSError:
                pass
    quiet(["docker", "rmi", DOCKER_IMAGE], check=False)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
