#!/usr/bin/env python3
"""Image pull benchmark: berth side by side with the tools a user would otherwise use.

One run measures, against one Debian docker-registry on loopback:

* cold pull of a Debian-sized image (one ~145 MB gzip layer, ~300 MB unpacked):
  ``berth pull`` into an empty store, ``docker pull`` on the running dockerd
  (the image and its layer removed before each run) and ``skopeo copy`` to an
  OCI layout (copies only, no unpacking); runs alternate A B C A B C with
  pauses, because ext4 with ``discard`` slows file creation right after a
  large delete;
* warm re-pull (everything present): ``berth pull`` vs ``docker pull``;
* ``berth images`` with 200 images in the store (``docker images`` on the
  engine's own store printed beside it for scale).

The image is built from a Debian rootfs: ``--rootfs DIR`` (default
``/tmp/dbs/root`` when it exists), otherwise debootstrap makes one in a temp
dir.  Nothing under /var/lib/berth is touched: berth runs on temp roots.

    python3 bench/image_pull.py [--runs 3] [--rootfs DIR]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BERTH = os.path.join(REPO, "bin", "berth")
sys.path.insert(0, os.path.join(REPO, "module_utils"))


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Registry(object):
    def __init__(self, workdir):
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        config = os.path.join(workdir, "registry.yml")
        with open(config, "w") as handle:
            handle.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                         "storage:\n  filesystem:\n    rootdirectory: %s/registry\n"
                         "http:\n  addr: %s\n" % (workdir, self.host))
        self.proc = subprocess.Popen(["docker-registry", "serve", config],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise SystemExit("docker-registry did not start")
                time.sleep(0.05)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)


def env_for(root):
    env = dict(os.environ)
    env["BERTH_ROOT"] = root
    env["BERTH_CONFIG"] = os.path.join(root, "client")
    env["BERTH_DAEMON_CONFIG"] = "/nonexistent/daemon.json"
    return env


def run(cmd, env=None, quiet=True):
    started = time.perf_counter()
    subprocess.check_call(cmd, env=env, stdout=subprocess.DEVNULL if quiet else None,
                          stderr=subprocess.DEVNULL if quiet else None)
    return time.perf_counter() - started


def make_rootfs(path, workdir):
    if path and os.path.isdir(path):
        return path
    target = os.path.join(workdir, "debian-rootfs")
    log("debootstrap bookworm into %s (a few minutes) ..." % target)
    subprocess.check_call(["debootstrap", "--variant=minbase", "bookworm", target],
                          stdout=subprocess.DEVNULL)
    return target


def build_image(rootfs, workdir, seed_root, ref):
    tarball = os.path.join(workdir, "rootfs.tar.gz")
    log("packing %s (tar | gzip -6) ..." % rootfs)
    with open(tarball, "wb") as out:
        tar = subprocess.Popen(["tar", "-C", rootfs, "--numeric-owner", "-cf", "-", "."], stdout=subprocess.PIPE)
        subprocess.check_call(["gzip", "-6"], stdin=tar.stdout, stdout=out)
        if tar.wait() != 0:
            raise SystemExit("tar of %s failed" % rootfs)
    log("berth import + push %s ..." % ref)
    env = env_for(seed_root)
    run([BERTH, "import", tarball, ref], env)
    run([BERTH, "push", ref], env)
    os.unlink(tarball)
    from berth.runtime.image.store import Store
    image = Store(seed_root).resolve(ref)
    return image.layers[0]["size"], image.size


def docker_forget(ref):
    subprocess.call(["docker", "rmi", "-f", ref], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_many_images(root, count):
    """``count`` two-layer images sharing a base layer, made through the store API."""
    import gzip
    import io
    import tarfile

    from berth.runtime.image.archive import ingest_layer
    from berth.runtime.image.store import Store, chain_ids

    def layer(files):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return gzip.compress(buf.getvalue())

    store = Store(root)
    base = ingest_layer(store, [layer({"etc/os-release": b"ID=bench\n"})])
    for number in range(count):
        top = ingest_layer(store, [layer({"app/id": str(number).encode()})], base["diff_id"])
        config = {"architecture": "amd64", "os": "linux",
                  "created": "2026-%02d-%02dT00:00:00Z" % (number % 12 + 1, number % 28 + 1),
                  "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": [base["diff_id"], top["diff_id"]]}}
        chain_ids([base["diff_id"], top["diff_id"]])
        store.add_image(json.dumps(config).encode(), [base, top], ["docker.io/bench/app%03d:latest" % number])


def median_of(cmd, env, count):
    return statistics.median(run(cmd, env) for _ in range(count))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="cold pulls per tool (default 3)")
    parser.add_argument("--rootfs", default="/tmp/dbs/root", help="Debian rootfs to build the image from")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between cold runs")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (unpacking preserves ownership, docker needs root)")
    workdir = tempfile.mkdtemp(prefix="berth-bench-")
    registry = Registry(workdir)
    ref = "%s/bench/debian:cold" % registry.host
    try:
        rootfs = make_rootfs(args.rootfs, workdir)
        gz_size, unpacked = build_image(rootfs, workdir, os.path.join(workdir, "seed"), ref)
        log("image: %.1f MB gzip, %.1f MB unpacked" % (gz_size / 1e6, unpacked / 1e6))
        docker_forget(ref)
        times = {"berth": [], "docker": [], "skopeo": []}

        def cold_berth(number):
            return run([BERTH, "pull", "-q", ref], env_for(os.path.join(workdir, "cold-%d" % number)))

        def cold_docker(number):
            try:
                return run(["docker", "pull", "-q", ref])
            finally:
                docker_forget(ref)

        def cold_skopeo(number):
            layout = os.path.join(workdir, "oci-%d" % number)
            return run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://" + ref,
                        "oci:%s:cold" % layout])

        tools = [("berth", cold_berth), ("docker", cold_docker), ("skopeo", cold_skopeo)]
        for number in range(args.runs):
            # Rotate the order, and let the previous run's writeback (and docker's rmi)
            # finish before each measured run: no tool always runs in the worst slot.
            for name, func in tools[number % 3:] + tools[:number % 3]:
                os.sync()
                time.sleep(args.pause)
                times[name].append(func(number))
            log("run %d: berth %.2f s, docker %.2f s, skopeo %.2f s"
                % (number + 1, times["berth"][-1], times["docker"][-1], times["skopeo"][-1]))
        warm_root = os.path.join(workdir, "cold-%d" % (args.runs - 1))
        warm_berth = median_of([BERTH, "pull", "-q", ref], env_for(warm_root), 10)
        run(["docker", "pull", "-q", ref])
        warm_docker = median_of(["docker", "pull", "-q", ref], None, 10)
        docker_forget(ref)
        many = os.path.join(workdir, "many")
        make_many_images(many, 200)
        images_berth = median_of([BERTH, "images"], env_for(many), 10)
        images_docker = median_of(["docker", "images"], None, 10)
        med = {tool: statistics.median(values) for tool, values in times.items()}
        print("berth image benchmark (%d cold runs each, medians; image %.0f MB gzip, %.0f MB unpacked)"
              % (args.runs, gz_size / 1e6, unpacked / 1e6))
        print("%-44s %10s %10s %10s" % ("", "berth", "docker", "skopeo"))
        print("%-44s %9.2fs %9.2fs %9.2fs" % ("cold pull", med["berth"], med["docker"], med["skopeo"]))
        print("%-44s %10s %9.2fx %9.2fx" % ("  berth time / tool time", "", med["berth"] / med["docker"],
                                             med["berth"] / med["skopeo"]))
        print("%-44s %9.3fs %9.3fs %10s" % ("warm re-pull (all present)", warm_berth, warm_docker, "-"))
        print("%-44s %9.3fs %9.3fs %10s" % ("images (berth: 200 images; docker: its store)", images_berth,
                                             images_docker, "-"))
        print("targets: cold <= 0.5x docker: %s; warm < 0.2 s: %s; images < 0.15 s: %s"
              % ("met" if med["berth"] <= 0.5 * med["docker"] else "MISSED",
                 "met" if warm_berth < 0.2 else "MISSED", "met" if images_berth < 0.15 else "MISSED"))
    finally:
        docker_forget(ref)
        registry.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
