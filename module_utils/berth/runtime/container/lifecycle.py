"""Creating, reconciling and removing containers: the steps both sides of the supervisor share.

The supervisor creates (``berth run``'s create+start in one request) and removes
(``--rm``, restore) containers; the Manager facade does the same for the CLI,
berthd and the modules. Both call these functions, so neither imports the other.
"""
import binascii
import os
import shutil

from ...common import paths
from . import images, logs, rootfs, spec, state
from .errors import Conflict

_DRIVERS = {}  # (requested driver, device of the root) -> (driver, reason): see storage_driver


def storage_driver(root):
    """rootfs.choose_driver's answer, asked again only when the request or the filesystem
    under the root changes (it reads /proc/filesystems and /proc/self/mounts, and the
    supervisor creates every container of its root)."""
    key = (os.environ.get("BERTH_STORAGE_DRIVER"), os.stat(root).st_dev)
    if key not in _DRIVERS:
        _DRIVERS[key] = rootfs.choose_driver(root, key[0])
    return _DRIVERS[key]


def create(store, name, body):
    """Resolve the image, build the record, lay out the rootfs dirs; nothing runs yet.

    Returns (record, reason): ``reason`` says why the vfs driver was chosen (empty for overlay2).
    """
    image = images.resolve(store.root, body.get("Image") or "")
    if image.id.startswith("dir:"):
        rootfs.check_special_dirs(image.layers[0])
    container_id = spec.new_container_id()
    name = spec.validate_name(name) if name else None
    record = spec.build_record(container_id, name or "pending", image.id, body, image.config,
                               logs.rfc3339_nano())
    driver, reason = storage_driver(store.root)
    record["Mounts"] = [volume_mount(store, bind) for bind in record["HostConfig"]["Binds"]]
    record["LogPath"] = store.path(container_id, "container.log")
    record["HostnamePath"] = store.path(container_id, "hostname")
    record["HostsPath"] = store.path(container_id, "hosts")
    record["ResolvConfPath"] = store.path(container_id, "resolv.conf")
    record["Berth"] = {"StorageReason": reason}
    directory = store.dir(container_id)
    data = {"MergedDir": os.path.join(directory, "merged")}
    if driver == "overlay2":
        data.update({"LowerDirs": image.layers, "LowerDir": ":".join(reversed(image.layers)),
                     "UpperDir": os.path.join(directory, "upper"),
                     "WorkDir": os.path.join(directory, "work")})
        make_dirs = ("upper", "work", "merged")
    else:
        data["MergedDir"] = os.path.join(directory, "rootfs")
        make_dirs = ()
    record["GraphDriver"] = {"Name": driver, "Data": data}
    durable = not record["HostConfig"]["AutoRemove"]  # an --rm container dies with a crash anyway
    if name:
        store.create(record, make_dirs, durable)
    else:
        for attempt in range(20):
            record["Name"] = "/" + (spec.random_name(()) if attempt < 10 else container_id[:12])
            try:
                store.create(record, make_dirs, durable)
                break
            except Conflict:
                continue
    if driver == "vfs":
        try:
            rootfs.copy_layers(image.layers, data["MergedDir"])
        except BaseException:
            store.remove(container_id, record["Name"])
            raise
    return record, reason


def volume_mount(store, text):
    """A -v spec as the record's Mounts entry; a named or anonymous volume gets its directory."""
    volume = spec.parse_volume(text)
    if volume["Type"] == "bind":
        if not os.path.exists(volume["Source"]):
            os.makedirs(volume["Source"])
        volume["Name"] = ""
    else:
        name = volume["Source"] or binascii.hexlify(os.urandom(32)).decode()
        data = os.path.join(store.volumes, name, "_data")
        os.makedirs(data, exist_ok=True)
        volume.update({"Name": name, "Source": data})
    return {"Type": volume["Type"], "Name": volume["Name"], "Source": volume["Source"],
            "Destination": volume["Destination"], "RW": volume["RW"], "Mode": "",
            "Propagation": "rprivate", "Anonymous": volume["Anonymous"]}


def port_bindings_of(settings):
    """The (host ip, host port, container port, proto) bindings a started container holds."""
    bindings = []
    for key, entries in sorted(settings.get("Ports", {}).items()):
        port, proto = key.split("/")
        for entry in entries or []:
            host_ip = entry.get("HostIp", "")
            bindings.append((host_ip if host_ip != "0.0.0.0" else "", int(entry["HostPort"]), int(port), proto))
    return bindings


def reconcile(store, record):
    """Free what a container that died without its supervisor still holds: its cgroups, its
    published ports and its address."""
    if not record.get("Berth", {}).get("NeedsCleanup"):
        return record
    from ..network.bridge import default_network
    from . import cgroups
    cgroups.for_container(record["Id"], paths.cgroup_parent()).destroy()
    settings = record["NetworkSettings"]
    if settings.get("Bridge") and settings.get("IPAddress"):
        network = default_network(store.root)
        if network.name == settings["Bridge"]:
            network.detach(record["Id"], settings["IPAddress"], port_bindings_of(settings))

    def done(rec):
        rec["Berth"].pop("NeedsCleanup", None)
    return store.update(record["Id"], done)


def remove_files(store, record, volumes, defer=False):
    """Delete a stopped container's directory and, with ``volumes``, its anonymous volumes."""
    if volumes:
        for mount in record.get("Mounts", []):
            if mount.get("Anonymous") and mount.get("Name"):
                shutil.rmtree(os.path.join(store.volumes, mount["Name"]), ignore_errors=True)
    store.remove(record["Id"], record["Name"], defer=defer)


def images_in_use(image_store):
    """The image store's in-use checker: image ids of every container under that root."""
    try:
        records = state.ContainerStore(image_store.root).all()
    except OSError:
        return set()
    return {r["Image"] for r in records}
