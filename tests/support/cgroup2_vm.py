"""A small KVM guest with a cgroup-v2 kernel, for the runtime's v2 limits.

This machine kind boots cgroup v1 (its v2 mount has no controllers), so the v2 code path is
run in a guest instead: Debian 12's own kernel (``linux-image-amd64``), booted straight into a
script with ``cgroup_no_v1=all``. The recipe, in order:

    ensure the kernel: ``apt-get download`` the package linux-image-amd64 depends on, keep
        vmlinuz and the few modules the guest needs (virtio disk, ext4, overlay), cached
    ensure the disk: an ext4 image of a Debian bookworm rootfs with python3 (the lab's cached
        tarball when present, else our own debootstrap), made with ``mkfs.ext4 -d``, cached
    build the initrd (per boot): busybox, those modules, a copy of the working tree's bin/ and
        module_utils/ and the guest script; its /init mounts the disk and copies the payload in
    boot with qemu (KVM, 2 vCPUs, 1 GiB, the disk as a throw-away snapshot), with a time limit;
        the guest writes its report as one JSON line on its second serial port and powers off

The cache lives in /var/cache/berth/vm, keyed by recipe, so a changed recipe never reuses a
stale artefact and a warm boot costs only the initrd and the guest's run. Run as root.
``python3 tests/support/cgroup2_vm.py`` boots once and prints the report.
"""
import glob
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("BERTH_VM_CACHE", "/var/cache/berth/vm")
LAB_CACHE = "/var/cache/berth/lab"
GUEST_SCRIPT = os.path.join(ROOT, "tests", "integration", "cgroup2", "guest_checks.py")
BUSYBOX = "/bin/busybox"
QEMU = "qemu-system-x86_64"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# Bump when the disk or kernel preparation below changes, so a stale cached artefact is not reused.
RECIPE_VERSION = "1"
# What the initrd loads before switching root; their own dependencies are read from the modules.
MODULE_ROOTS = ("virtio_pci", "virtio_blk", "crc32c_generic", "ext4", "overlay")
DISK_SIZE = "2G"
BOOT_TIMEOUT = 420
KERNEL_ARGS = ("console=ttyS0 panic=-1 loglevel=4 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1")
RESULT_MARK = "BERTH-VM-RESULT "

# Stage 1 (the initrd's /init): load modules, mount the disk, copy the payload, switch root.
STAGE1 = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in $(cat /modules/order); do insmod /modules/$module.ko || echo "stage1: insmod $module failed"; done
for _ in $(seq 100); do [ -b /dev/vda ] && break; sleep 0.1; done
mount -t ext4 /dev/vda /newroot || { echo "stage1: cannot mount /dev/vda"; poweroff -f; }
rm -rf /newroot/berth && mkdir -p /newroot/berth && cp -a /payload/. /newroot/berth/
cp /bin/busybox /newroot/berth/busybox
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /berth/stage2
"""

# Stage 2 (pid 1 on the disk): the mounts a cgroup-v2 host has (as systemd leaves them, with the
# controllers enabled at the root), then the checks; the report goes to the second serial port.
STAGE2 = """#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
for controller in cpuset cpu io memory pids; do
    echo "+$controller" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
done
echo "stage2: cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
python3 /berth/guest_checks.py > /berth/result.json 2> /berth/guest.err
echo "stage2: guest checks exited $?"
cat /berth/guest.err
printf '%s' "{marker}" > /dev/ttyS1
cat /berth/result.json > /dev/ttyS1
sync
/berth/busybox poweroff -f
""".replace("{marker}", RESULT_MARK)


class VMError(Exception):
    """A step of building or booting the guest failed; the message says which and why."""


def run(argv, **kwargs):
    """Run a command, raising VMError with its output when it fails."""
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, check=False, **kwargs)
    if result.returncode != 0:
        raise VMError("%s failed (%d): %s" % (" ".join(argv), result.returncode, result.stdout[-3000:]))
    return result.stdout


# How qemu runs the guest. KVM is the fast way on an ordinary machine; this machine kind's nested
# KVM (a Firecracker guest) cannot run a Linux guest: the bzImage decompressor crawls for
# minutes, and a PVH-booted vmlinux dies on "emulation failure" (KVM emulating cmpxchg16b and
# xrstor on pages it write-protects). So TCG, qemu's own emulation, is the default; it needs no
# /dev/kvm and the checks are limits, not timings. BERTH_VM_ACCEL=kvm opts in to KVM.
ACCELERATORS = {
    "tcg": ["-accel", "tcg,thread=multi", "-cpu", "max"],
    "kvm": ["-accel", "kvm", "-cpu", "host"],
}


def accelerator():
    return os.environ.get("BERTH_VM_ACCEL", "tcg")


def unavailable_reason():
    """Why this machine cannot boot the guest, or None when it can."""
    if os.geteuid() != 0:
        return "the cgroup-v2 VM needs root (apt-get download, mkfs of a rootfs with root-owned files)"
    if accelerator() not in ACCELERATORS:
        return "BERTH_VM_ACCEL=%s is not one of %s" % (accelerator(), ", ".join(sorted(ACCELERATORS)))
    if accelerator() == "kvm":
        try:
            os.close(os.open("/dev/kvm", os.O_RDWR))
        except OSError as exc:
            return "BERTH_VM_ACCEL=kvm but /dev/kvm cannot be opened (%s)" % exc.strerror
    if shutil.which(QEMU) is None:
        return "%s is not installed: apt-get install qemu-system-x86 (make deps does)" % QEMU
    if not os.path.exists(BUSYBOX):
        return "needs Debian's busybox-static (%s) for the guest's init and test image" % BUSYBOX
    return None


# ---- the kernel -------------------------------------------------------------------------------

def kernel_package():
    """(package, version) of the kernel Debian's linux-image-amd64 currently points to."""
    depends = run(["apt-cache", "depends", "linux-image-amd64"])
    names = [line.split(":", 1)[1].strip() for line in depends.splitlines()
             if line.strip().startswith("Depends:") and "linux-image-" in line]
    if not names:
        raise VMError("apt-cache knows no kernel for linux-image-amd64 (run apt-get update)")
    show = run(["apt-cache", "show", "--no-all-versions", names[0]])
    versions = [line.split(":", 1)[1].strip() for line in show.splitlines() if line.startswith("Version:")]
    return names[0], versions[0]


def module_depends(path):
    """The module names a .ko needs first, from its modinfo ``depends=`` string."""
    with open(path, "rb") as handle:
        data = handle.read()
    start = data.find(b"\0depends=")
    if start < 0:
        return []
    end = data.index(b"\0", start + 1)
    text = data[start + len(b"\0depends="):end].decode()
    return [name for name in text.split(",") if name]


def module_load_order(roots, index):
    """Modules in an order insmod accepts (dependencies first); index maps name -> .ko path."""
    order = []

    def visit(name):
        name = name.replace("-", "_")
        if name in order:
            return
        if name not in index:
            raise VMError("kernel module %s is not in the kernel package" % name)
        for dependency in module_depends(index[name]):
            visit(dependency)
        order.append(name)

    for root in roots:
        visit(root)
    return order


def ensure_kernel():
    """The cached kernel directory: vmlinuz, modules/<name>.ko and modules/order."""
    package, version = kernel_package()
    final = os.path.join(CACHE, "kernel-%s-%s-r%s" % (package, version, RECIPE_VERSION))
    if os.path.exists(os.path.join(final, "vmlinuz")):
        return final
    os.makedirs(CACHE, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".kernel-", dir=CACHE)
    try:
        run(["apt-get", "download", "-q", "%s=%s" % (package, version)], cwd=work)
        debs = glob.glob(os.path.join(work, "*.deb"))
        tree = os.path.join(work, "tree")
        run(["dpkg-deb", "-x", debs[0], tree])
        out = os.path.join(work, "out")
        os.makedirs(os.path.join(out, "modules"))
        shutil.copy2(glob.glob(os.path.join(tree, "boot", "vmlinuz-*"))[0], os.path.join(out, "vmlinuz"))
        index = {}
        for path in glob.glob(os.path.join(tree, "lib", "modules", "*", "kernel", "**", "*.ko"), recursive=True):
            index[os.path.basename(path)[:-3].replace("-", "_")] = path
        order = module_load_order(MODULE_ROOTS, index)
        for name in order:
            shutil.copy2(index[name], os.path.join(out, "modules", name + ".ko"))
        with open(os.path.join(out, "modules", "order"), "w") as handle:
            handle.write("\n".join(order) + "\n")
        try:
            os.rename(out, final)
        except OSError:
            if not os.path.exists(os.path.join(final, "vmlinuz")):  # else a concurrent build won
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    prune_stale("kernel-", final)
    return final


def prune_stale(prefix, current):
    """Remove the artefacts of older recipes (an old kernel, a 2 GB disk) once a new one is made."""
    for entry in os.listdir(CACHE):
        path = os.path.join(CACHE, entry)
        if entry.startswith(prefix) and path != current:
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)


# ---- the disk ---------------------------------------------------------------------------------

def lab_tarball():
    """The lab's cached Debian rootfs for its current recipe, if that exists on this machine."""
    sys.path.insert(0, os.path.join(ROOT, "module_utils"))
    from berth.lab import fleet
    path = fleet.LabSpec("lab", 1, "172.28.250.0/24", suite=SUITE, mirror=MIRROR, cache_dir=LAB_CACHE).image_tarball
    return path if os.path.exists(path) else None


def disk_recipe():
    """(cache key, description) of the rootfs the disk is made from."""
    source = lab_tarball()
    recipe = [RECIPE_VERSION, DISK_SIZE] + (["lab", os.path.basename(source)] if source
                                            else ["debootstrap", SUITE, MIRROR, "python3"])
    return hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:12], source


def ensure_disk():
    """The cached ext4 image of the guest's rootfs (never written: the guest boots a snapshot)."""
    key, source = disk_recipe()
    final = os.path.join(CACHE, "rootfs-%s-%s.ext4" % (SUITE, key))
    if os.path.exists(final):
        return final
    os.makedirs(CACHE, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".disk-", dir=CACHE)
    try:
        tree = os.path.join(work, "rootfs")
        if source:
            os.makedirs(tree)
            run(["tar", "--numeric-owner", "--xattrs", "-C", tree, "-xf", source])
        else:
            if shutil.which("debootstrap") is None:
                raise VMError("debootstrap is not installed: apt-get install debootstrap")
            run(["debootstrap", "--variant=minbase", "--include=python3", SUITE, tree, MIRROR], timeout=1800)
        for name in ("berth", "sys/fs/cgroup", "run", "tmp", "dev"):
            os.makedirs(os.path.join(tree, name), exist_ok=True)
        image = os.path.join(work, "rootfs.ext4")
        run(["mkfs.ext4", "-q", "-F", "-L", "berth-vm", "-d", tree, image, DISK_SIZE])
        os.rename(image, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    prune_stale("rootfs-", final)
    return final


# ---- the initrd -------------------------------------------------------------------------------

class Cpio(object):
    """A newc ("070701") archive, the format the kernel unpacks an initramfs from."""

    def __init__(self):
        self.buffer = io.BytesIO()
        self.inode = 1

    def _entry(self, name, mode, data=b""):
        name_bytes = name.encode() + b"\0"
        fields = (self.inode, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_bytes), 0)
        self.buffer.write(b"070701" + b"".join(b"%08X" % value for value in fields))
        self.buffer.write(name_bytes)
        self.buffer.write(b"\0" * (-(110 + len(name_bytes)) % 4))
        self.buffer.write(data)
        self.buffer.write(b"\0" * (-len(data) % 4))
        self.inode += 1

    def directory(self, name):
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name, data, mode=0o644):
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def tree(self, source, name):
        """A directory copied recursively, without caches, keeping the executable bit."""
        self.directory(name)
        for entry in sorted(os.listdir(source)):
            if entry == "__pycache__" or entry.endswith(".pyc"):
                continue
            path = os.path.join(source, entry)
            if os.path.isdir(path):
                self.tree(path, name + "/" + entry)
            elif os.path.isfile(path):
                with open(path, "rb") as handle:
                    self.file(name + "/" + entry, handle.read(), 0o755 if os.access(path, os.X_OK) else 0o644)

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return self.buffer.getvalue()


def build_initrd(kernel_dir, path):
    """The initrd for one boot: busybox, the modules, and this working tree's code as payload."""
    if not os.path.exists(BUSYBOX):
        raise VMError("needs Debian's busybox-static (%s) for the guest's init and test image" % BUSYBOX)
    archive = Cpio()
    for name in ("bin", "modules", "payload", "payload/tests"):
        archive.directory(name)
    with open(BUSYBOX, "rb") as handle:
        archive.file("bin/busybox", handle.read(), 0o755)
    archive.symlink("bin/sh", "busybox")
    archive.file("init", STAGE1.encode(), 0o755)
    modules = os.path.join(kernel_dir, "modules")
    for entry in sorted(os.listdir(modules)):
        with open(os.path.join(modules, entry), "rb") as handle:
            archive.file("modules/" + entry, handle.read())
    archive.file("payload/stage2", STAGE2.encode(), 0o755)
    with open(GUEST_SCRIPT, "rb") as handle:
        archive.file("payload/guest_checks.py", handle.read(), 0o755)
    archive.tree(os.path.join(ROOT, "bin"), "payload/bin")
    archive.tree(os.path.join(ROOT, "module_utils"), "payload/module_utils")
    with open(path, "wb") as handle:
        handle.write(gzip.compress(archive.finish(), compresslevel=1))
    return path


# ---- the boot ---------------------------------------------------------------------------------

def boot(workdir, timeout=BOOT_TIMEOUT):
    """Boot the guest once; returns (report dict or None, console text, seconds)."""
    kernel_dir = ensure_kernel()
    disk = ensure_disk()
    initrd = build_initrd(kernel_dir, os.path.join(workdir, "initrd.gz"))
    console = os.path.join(workdir, "console.log")
    result = os.path.join(workdir, "result.log")
    argv = [QEMU] + ACCELERATORS[accelerator()] + ["-m", "1024", "-smp", "2", "-display", "none",
            "-monitor", "none", "-no-reboot", "-nic", "none",
            "-kernel", os.path.join(kernel_dir, "vmlinuz"), "-initrd", initrd, "-append", KERNEL_ARGS,
            "-drive", "file=%s,format=raw,if=virtio,snapshot=on" % disk,
            "-serial", "file:" + console, "-serial", "file:" + result]
    started = time.time()
    # qemu's snapshot=on overlay goes to TMPDIR: keep it in our own work directory
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=dict(os.environ, TMPDIR=workdir))
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise VMError("the guest did not power off within %d s; console:\n%s" % (timeout, tail(console)))
    elapsed = time.time() - started
    if proc.returncode != 0:
        raise VMError("qemu exited %d: %s\nconsole:\n%s" % (proc.returncode, output.decode(errors="replace"),
                                                             tail(console)))
    return parse_result(read_text(result)), read_text(console), elapsed


def read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def tail(path, lines=60):
    return "\n".join(read_text(path).splitlines()[-lines:])


def parse_result(text):
    """The guest's JSON report after the marker, or None when the guest never wrote one."""
    start = text.find(RESULT_MARK)
    if start < 0:
        return None
    try:
        return json.loads(text[start + len(RESULT_MARK):].strip())
    except ValueError:
        return None


def main():
    reason = unavailable_reason()
    if reason:
        print("cannot boot the guest: " + reason, file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="berth-vm-")
    try:
        report, console, elapsed = boot(workdir)
        print(console)
        print(json.dumps(report, indent=2, sort_keys=True))
        print("boot + checks: %.1f s" % elapsed, file=sys.stderr)
        return 0 if report is not None else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
