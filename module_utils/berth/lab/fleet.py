"""The lab fleet: Debian 12 hosts (systemd as pid 1, sshd) as containers on one engine.

The recipe, in order:
    validate the request (root, host count, name, subnet free of existing routes)
    ensure the base image (debootstrap once into a cache outside the repository, then import)
    ensure the bridge network with a fixed subnet
    ensure the lab's SSH key
    ensure each host: a volume for /var/lib/docker, a container with a fixed address and hostname
    wait until every host's sshd answers

Everything the lab makes carries the label ``io.berth.lab=<name>``, so ``absent`` removes exactly
what it made and nothing else. The cached rootfs tarball and image stay (they are a cache) unless
``purge_cache`` is asked for.
"""
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import tempfile
import time

from ..client.engine import EngineError, NotFound
from ..common.atomic import atomic_write
from ..common.command import CommandError, run
from ..common.errors import BerthError

LABEL = "io.berth.lab"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,9}$")
MAX_HOSTS = 50
# systemd in every lab host holds inotify instances of the machine's root user, and the kernel's
# default (128 per user) runs out at about a dozen hosts: sshd then never starts. These are the
# floors the lab raises the machine's limits to (it never lowers them).
INOTIFY_FLOORS = (("fs/inotify/max_user_instances", 1024), ("fs/inotify/max_user_watches", 524288))
FIRST_HOST_OFFSET = 10
BASE_PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "iproute2",
    "ca-certificates", "sudo", "gnupg", "procps", "kmod",
    "netbase",  # /etc/protocols and /etc/services, which every real server has (firewalld needs them)
)
# Bump when the customisation below changes, so a stale cached image is not reused.
IMAGE_RECIPE_VERSION = "1"
HOST_CONFIG = {
    # Docker cannot run --privileged here (CAP_SYS_RESOURCE is not in the bounding set);
    # these settings boot systemd and sshd instead (shared/reference/lab-facts.md).
    "CapAdd": ["ALL"],
    "CapDrop": ["SYS_RESOURCE"],
    "SecurityOpt": ["seccomp=unconfined"],
    "CgroupnsMode": "host",
    "Tmpfs": {"/run": "rw,mode=755", "/run/lock": "rw"},
    "RestartPolicy": {"Name": "no"},
}

UNIT_HOSTKEYS = """\
[Unit]
Description=Generate this lab host's own SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""

# /proc/sys is read-only in a container; only the host's own network sysctls are made
# writable (a lab adaptation: ip_forward and bridge settings belong to this netns).
UNIT_NET_SYSCTLS = """\
[Unit]
Description=Make this lab host's network sysctls writable
DefaultDependencies=no
Before=sysinit.target systemd-sysctl.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net'

[Install]
WantedBy=sysinit.target
"""


class LabError(BerthError):
    """A request the lab refuses, or a step that failed; the message says what to do."""


class LabSpec:
    """What the caller asked for, validated before anything is touched."""

    def __init__(self, name, hosts, subnet, suite="bookworm", mirror="http://deb.debian.org/debian",
                 cache_dir="/var/cache/berth/lab", state_dir="/var/lib/berth-lab"):
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise LabError("lab name %r is invalid: use 1-10 lowercase letters and digits, "
                           "starting with a letter" % (name,))
        try:
            count = int(hosts)
        except (TypeError, ValueError):
            raise LabError("lab_hosts must be a whole number from 1 to %d, got %r" % (MAX_HOSTS, hosts))
        if isinstance(hosts, bool) or str(hosts).strip() != str(count) or not 1 <= count <= MAX_HOSTS:
            raise LabError("lab_hosts must be a whole number from 1 to %d, got %r" % (MAX_HOSTS, hosts))
        try:
            network = ipaddress.ip_network(str(subnet), strict=True)
        except ValueError as exc:
            raise LabError("lab_subnet %r is not a network address in CIDR form (%s), e.g. 172.28.250.0/24"
                           % (subnet, exc))
        if network.version != 4 or not network.is_private:
            raise LabError("lab_subnet %s must be a private IPv4 network (10/8, 172.16/12, 192.168/16)" % network)
        if network.num_addresses < count + FIRST_HOST_OFFSET + 2:
            raise LabError("lab_subnet %s is too small for %d hosts: use a /24" % (network, count))
        if not re.match(r"^https?://[^\s/]+(/\S*)?$", mirror or ""):
            raise LabError("lab_mirror %r is not an http(s) URL of a Debian mirror" % (mirror,))
        self.name, self.count, self.network = name, count, network
        self.suite, self.mirror = suite, mirror.rstrip("/")
        self.cache_dir, self.state_dir = cache_dir, os.path.join(state_dir, name)

    @property
    def network_name(self):
        return "berth-" + self.name

    @property
    def bridge_name(self):
        return "blab-" + self.name  # at most 15 characters, the kernel's limit

    @property
    def gateway(self):
        return str(self.network.network_address + 1)

    @property
    def key_path(self):
        return os.path.join(self.state_dir, "id_ed25519")

    def hosts(self):
        """The fleet, in order: dicts with index, name (= hostname), container, address."""
        return [
            {
                "index": i,
                "name": "%s%d" % (self.name, i),
                "container": "berth-%s%d" % (self.name, i),
                "volume": "berth-%s%d-docker" % (self.name, i),
                "address": str(self.network.network_address + FIRST_HOST_OFFSET + i),
            }
            for i in range(1, self.count + 1)
        ]

    @property
    def image_key(self):
        recipe = json.dumps([IMAGE_RECIPE_VERSION, self.suite, self.mirror, BASE_PACKAGES, UNIT_HOSTKEYS,
                             UNIT_NET_SYSCTLS])
        return hashlib.sha256(recipe.encode("utf-8")).hexdigest()[:12]

    @property
    def image_tarball(self):
        return os.path.join(self.cache_dir, "debian-%s-%s.tar" % (self.suite, self.image_key))

    @property
    def image_ref(self):
        return "berth-lab/debian:%s-%s" % (self.suite, self.image_key)


# -- pure checks -------------------------------------------------------------------------------

def parse_proc_net_route(text):
    """Parse /proc/net/route into (interface, IPv4Network) pairs, default routes left out."""
    routes = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        destination = ipaddress.IPv4Address(bytes(reversed(bytes.fromhex(fields[1]))))
        mask = ipaddress.IPv4Address(bytes(reversed(bytes.fromhex(fields[7]))))
        network = ipaddress.IPv4Network("%s/%s" % (destination, mask), strict=False)
        if network.prefixlen == 0:
            continue
        routes.append((fields[0], network))
    return routes


def colliding_routes(network, routes, own_interface):
    """Routes other than the lab's own bridge that overlap ``network``."""
    return [(iface, net) for iface, net in routes if iface != own_interface and net.overlaps(network)]


def render_inventory(spec, hosts):
    lines = [
        "# Written by playbooks/lab.yml for the lab %r; removed by lab_state=absent." % spec.name,
        "[docker_hosts]",
    ]
    lines += ["%s ansible_host=%s" % (host["name"], host["address"]) for host in hosts]
    lines += [
        "",
        "[%s:children]" % spec.name,
        "docker_hosts",
        "",
        "[%s:vars]" % spec.name,
        "ansible_user=root",
        "ansible_python_interpreter=/usr/bin/python3",
        "ansible_ssh_private_key_file=%s" % spec.key_path,
        "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'",
        "ansible_host_key_checking=false",
        "",
    ]
    return "\n".join(lines)


# -- the fleet ---------------------------------------------------------------------------------

class LabFleet:
    """Brings one lab to ``present`` or ``absent`` through an engine client.

    Each ``ensure_*`` step appends what it did (or, in check mode, would do) to ``actions``.
    """

    def __init__(self, spec, engine, check_mode=False, log=None):
        self.spec = spec
        self.engine = engine
        self.check_mode = check_mode
        self.actions = []
        self.log = log or (lambda message: None)

    def _act(self, description, func=None, *args):
        self.actions.append(description)
        self.log(description)
        if func is not None and not self.check_mode:
            return func(*args)
        return None

    # present ------------------------------------------------------------------------------
    def present(self, ssh_timeout=120):
        self.validate_host()
        self.validate_subnet_is_free()
        image_id = self.ensure_image()
        self.ensure_inotify_limits()
        self.ensure_network()
        self.ensure_key()
        hosts = self.spec.hosts()
        self.remove_surplus_hosts(len(hosts))
        for host in hosts:
            self.ensure_host(host, image_id)
        if not self.check_mode:
            self.wait_for_ssh(hosts, ssh_timeout)
        return hosts

    def validate_host(self):
        if os.geteuid() != 0:
            raise LabError("the lab needs root (debootstrap, bridges, containers): run it as root")
        try:
            self.engine.ping()
        except EngineError as exc:
            raise LabError("the lab engine does not answer: %s" % exc)

    def validate_subnet_is_free(self):
        with open("/proc/net/route") as handle:
            routes = parse_proc_net_route(handle.read())
        clashes = colliding_routes(self.spec.network, routes, self.current_bridge_name())
        if clashes:
            raise LabError(
                "lab_subnet %s collides with existing route(s) %s: choose another lab_subnet"
                % (self.spec.network, ", ".join("%s via %s" % (net, iface) for iface, net in clashes))
            )

    def current_bridge_name(self):
        """The bridge of this lab's network if it exists (its route is the lab's own), else the planned one."""
        try:
            network = self.engine.network_inspect(self.spec.network_name)
        except NotFound:
            return self.spec.bridge_name
        options = network.get("Options") or {}
        return options.get("com.docker.network.bridge.name") or "br-" + network["Id"][:12]

    def ensure_image(self):
        spec = self.spec
        try:
            return self.engine.image_inspect(spec.image_ref)["Id"]
        except NotFound:
            pass
        if not os.path.exists(spec.image_tarball):
            self._act("build base image %s with debootstrap from %s" % (spec.image_tarball, spec.mirror),
                      build_rootfs_tarball, spec)
        self._act("import %s as %s" % (spec.image_tarball, spec.image_ref))
        if self.check_mode:
            return None
        image = self.engine.image_import(
            spec.image_tarball, *spec.image_ref.split(":"),
            changes=['CMD ["/sbin/init"]', "ENV container=docker"],
        )
        return image["Id"]

    def ensure_inotify_limits(self, proc_sys="/proc/sys"):
        for key, floor in INOTIFY_FLOORS:
            path = os.path.join(proc_sys, key)
            with open(path) as handle:
                current = int(handle.read())
            if current < floor:
                self._act("raise %s from %d to %d (systemd in each lab host needs inotify instances)"
                          % (key.replace("/", "."), current, floor), _write_text, path, "%d\n" % floor)

    def ensure_network(self):
        spec = self.spec
        try:
            current = self.engine.network_inspect(spec.network_name)
        except NotFound:
            current = None
        if current is not None:
            subnets = [cfg.get("Subnet") for cfg in (current.get("IPAM") or {}).get("Config") or []]
            if subnets == [str(spec.network)]:
                return
            self.remove_surplus_hosts(0)
            self._act("remove network %s (subnet %s, want %s)" % (spec.network_name, subnets, spec.network),
                      self.engine.network_remove, spec.network_name)
        body = {
            "Name": spec.network_name,
            "Driver": "bridge",
            "CheckDuplicate": True,
            "IPAM": {"Config": [{"Subnet": str(spec.network), "Gateway": spec.gateway}]},
            "Options": {"com.docker.network.bridge.name": spec.bridge_name},
            "Labels": {LABEL: spec.name},
        }
        self._act("create network %s %s on bridge %s" % (spec.network_name, spec.network, spec.bridge_name),
                  self.engine.network_create, body)

    def ensure_key(self):
        path = self.spec.key_path
        if os.path.exists(path) and os.path.exists(path + ".pub"):
            return
        self._act("generate SSH key %s" % path, generate_key, path)

    def host_body(self, host, image_id):
        spec = self.spec
        host_config = dict(HOST_CONFIG)
        host_config["NetworkMode"] = spec.network_name
        host_config["Binds"] = [
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "%s.pub:/root/.ssh/authorized_keys:ro" % spec.key_path,
            "%s:/var/lib/docker" % host["volume"],
        ]
        body = {
            "Image": image_id,
            "Hostname": host["name"],
            "Env": ["container=docker"],
            "StopSignal": "SIGRTMIN+3",  # systemd's clean shutdown signal
            "HostConfig": host_config,
            "NetworkingConfig": {
                "EndpointsConfig": {spec.network_name: {"IPAMConfig": {"IPv4Address": host["address"]}}}
            },
            "Labels": {LABEL: spec.name, LABEL + ".index": str(host["index"])},
        }
        # The fingerprint says whether an existing container still matches what is asked.
        fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()[:16]
        body["Labels"][LABEL + ".spec"] = fingerprint
        return body

    def ensure_host(self, host, image_id):
        body = self.host_body(host, image_id)
        try:
            current = self.engine.container_inspect(host["container"])
        except NotFound:
            current = None
        if current is not None and current["Config"]["Labels"].get(LABEL + ".spec") != body["Labels"][
                LABEL + ".spec"]:
            self._act("replace host %s (its settings changed)" % host["name"],
                      self.engine.container_remove, host["container"])
            current = None
        if current is None:
            self._act("create volume %s" % host["volume"], self.engine.volume_create,
                      {"Name": host["volume"], "Labels": {LABEL: self.spec.name}})
            self._act("create host %s at %s" % (host["name"], host["address"]),
                      self.engine.container_create, host["container"], body)
        elif current["State"]["Running"]:
            return
        self._act("start host %s" % host["name"], self.engine.container_start, host["container"])

    def remove_surplus_hosts(self, keep):
        for container in self.engine.containers(label="%s=%s" % (LABEL, self.spec.name)):
            index = int(container["Labels"].get(LABEL + ".index", "0"))
            if index > keep:
                name = container["Names"][0].lstrip("/")
                self._act("remove host container %s" % name, self.engine.container_remove, name)
                volume = "%s-docker" % name
                self._act("remove volume %s" % volume, _remove_volume_if_present, self.engine, volume)

    def wait_for_ssh(self, hosts, timeout):
        deadline = time.monotonic() + timeout
        waiting = list(hosts)
        while waiting:
            waiting = [host for host in waiting if not ssh_answers(host["address"])]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise LabError("sshd did not answer within %ds on %s" % (
                    timeout, ", ".join("%s (%s)" % (h["name"], h["address"]) for h in waiting)))
            time.sleep(0.2)

    # absent -------------------------------------------------------------------------------
    def absent(self, purge_cache=False):
        spec = self.spec
        self.validate_host()
        self.remove_surplus_hosts(0)
        for volume in self.engine.volumes("%s=%s" % (LABEL, spec.name)):
            self._act("remove volume %s" % volume["Name"], self.engine.volume_remove, volume["Name"])
        try:
            self.engine.network_inspect(spec.network_name)
            self._act("remove network %s" % spec.network_name, self.engine.network_remove, spec.network_name)
        except NotFound:
            pass
        if os.path.isdir(spec.state_dir):
            self._act("remove %s (SSH key)" % spec.state_dir, shutil.rmtree, spec.state_dir)
        if purge_cache:
            try:
                image_id = self.engine.image_inspect(spec.image_ref)["Id"]
            except NotFound:
                pass
            else:
                users = [c["Names"][0].lstrip("/") for c in self.engine.containers() if c.get("ImageID") == image_id]
                if users:
                    # Other labs share the cached image: keep it rather than break them.
                    self.log("keep image %s: used by %s" % (spec.image_ref, ", ".join(sorted(users))))
                else:
                    self._act("remove image %s" % spec.image_ref, self.engine.image_remove, spec.image_ref)
            if os.path.exists(spec.image_tarball):
                self._act("remove cached %s" % spec.image_tarball, os.unlink, spec.image_tarball)


def _write_text(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def _remove_volume_if_present(engine, name):
    try:
        engine.volume_remove(name)
    except NotFound:
        pass


def ssh_answers(address, port=22):
    """True when an SSH server at ``address`` sends its identification banner."""
    try:
        with socket.create_connection((address, port), timeout=1) as conn:
            conn.settimeout(2)
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def generate_key(path):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    for leftover in (path, path + ".pub"):
        if os.path.exists(leftover):
            os.unlink(leftover)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "berth-lab", "-f", path])


def build_rootfs_tarball(spec):
    """debootstrap a Debian rootfs, prepare it for booting in a container, tar it into the cache.

    Works in a temporary directory beside the cache file and renames the tarball into place only
    when complete, so a failed or interrupted build leaves nothing behind.
    """
    if shutil.which("debootstrap") is None:
        raise LabError("debootstrap is not installed: apt-get install debootstrap")
    os.makedirs(spec.cache_dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix=".build-", dir=spec.cache_dir)
    try:
        rootfs = os.path.join(workdir, "rootfs")
        try:
            run(["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES),
                 spec.suite, rootfs, spec.mirror], timeout=1800)
        except CommandError as exc:
            raise LabError("debootstrap of Debian %s from %s failed (is the mirror reachable? set lab_mirror): %s"
                           % (spec.suite, spec.mirror, exc))
        prepare_rootfs(rootfs)
        tarball = os.path.join(workdir, "rootfs.tar")
        run(["tar", "--numeric-owner", "--xattrs", "-C", rootfs, "-cf", tarball, "."])
        os.rename(tarball, spec.image_tarball)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    prune_stale_tarballs(spec.cache_dir, spec.suite, keep=spec.image_tarball)


def prune_stale_tarballs(cache_dir, suite, keep):
    """Remove the tarballs of older recipes of this suite (a changed recipe gets a new key)."""
    prefix, removed = "debian-%s-" % suite, []
    for name in sorted(os.listdir(cache_dir)):
        path = os.path.join(cache_dir, name)
        if name.startswith(prefix) and name.endswith(".tar") and path != keep:
            os.unlink(path)
            removed.append(path)
    return removed


def prepare_rootfs(rootfs):
    """Make a debootstrapped tree boot as a lab host: own host keys, writable net sysctls, no machine id."""
    def path(*parts):
        return os.path.join(rootfs, *parts)

    units = path("etc", "systemd", "system")
    for name, text, target in (("berth-lab-hostkeys.service", UNIT_HOSTKEYS, "multi-user.target"),
                               ("berth-lab-netsysctl.service", UNIT_NET_SYSCTLS, "sysinit.target")):
        atomic_write(os.path.join(units, name), text)
        wants = os.path.join(units, target + ".wants")
        os.makedirs(wants, exist_ok=True)
        os.symlink("/etc/systemd/system/" + name, os.path.join(wants, name))
    for entry in os.listdir(path("etc", "ssh")):
        if entry.startswith("ssh_host_"):
            os.unlink(path("etc", "ssh", entry))
    atomic_write(path("etc", "machine-id"), "")
    os.makedirs(path("root", ".ssh"), mode=0o700, exist_ok=True)
