"""berth's content store: blobs, unpacked layers, image configs and tags.

Contract for the container half (stable API)
--------------------------------------------
``from berth.runtime.image.store import Store``

``Store(root="/var/lib/berth")``
    Opens (and creates) the store under ``root``.  Tests pass a temp root.

``store.resolve(ref_or_id)`` -> ``ImageRecord``
    Accepts ``name[:tag]``, ``name@sha256:...``, a full ``sha256:<hex>`` image
    ID or a unique hex prefix of one.  Raises ``ImageNotFound`` (a
    ``BerthError``, see ``errors.py``) when nothing matches.  The record has

    * ``.id``: ``"sha256:<hex>"``, the digest of the image config JSON;
    * ``.config``: the parsed image config (``config["config"]`` holds Env,
      Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels ...);
    * ``.repo_tags``: list of ``name:tag`` strings (familiar form, as Docker
      prints them), ``.repo_digests``, ``.created``, ``.size``.

``store.layer_dirs(image)`` -> list of absolute paths, LOWEST layer FIRST
    Each is a plain directory holding one unpacked layer, whiteouts already
    translated for overlayfs (0:0 character devices, ``trusted.overlay.opaque``
    = ``y``).  Overlay wants the uppermost lowerdir first, so reverse the list
    for ``lowerdir=``.  LAYER DIRECTORIES ARE SHARED BETWEEN IMAGES AND MUST
    NEVER BE MODIFIED by a consumer: mount them read-only as lower dirs only.

``Store.in_use_checkers``
    A class-level list.  The container half appends a callable
    ``checker(store) -> iterable of image IDs`` that are used by containers;
    ``rmi`` consults every checker (``store.images_in_use()``) and refuses to
    delete an image in use (``image_users(image_id)`` tells whether one is).
    Checkers run while rmi holds the store lock: they must only read
    container state, never call a Store method that writes.

To pull an image that is missing (``run`` does)::

    from berth.runtime.image.pull import Puller
    from berth.runtime.image.registry import Client, RegistryConfig
    record, _ = Puller(store, Client(RegistryConfig())).pull("debian:12")

Layout under ``<root>/image``::

    lock                        flock held by every writer while it commits
    repositories.json           tag and digest index: {"tags": {ref: id}, "digests": {ref: id}}
    images/<hex>.json           image record: layers (digest, diff_id, chain_id, sizes), created
    blobs/sha256/<hex>          configs, manifests and compressed layer blobs, by digest
    layers/<chain-hex>/layer.json, diff/   one unpacked layer, shared by chain ID
    tmp/<work-id>[.lock]        work in progress; a work dir whose lock nobody holds is stale

Every write is a rename of a complete file or directory, made under the lock,
so a process killed at any point leaves either the old state or the new one
plus garbage in ``tmp/`` that the next writer removes.
"""
import contextlib
import fcntl
import json
import os
import time

from ...common import paths
from ...common.atomic import atomic_write, locked
from .errors import ImageConflict, ImageNotFound, InvalidReference

# Imported where used, so that listing images (the hot path of `berth images`)
# loads neither hashlib, shutil nor the reference grammar.


def _rmtree(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def _new_name():
    return os.urandom(16).hex()

DEFAULT_ROOT = paths.DEFAULT_ROOT


def sha256_hex(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids):
    """ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(n))."""
    chains = []
    for diff_id in diff_ids:
        if not chains:
            chains.append(diff_id)
        else:
            chains.append("sha256:" + sha256_hex((chains[-1] + " " + diff_id).encode("ascii")))
    return chains


def _hex(digest):
    algo, _, value = digest.partition(":")
    if algo != "sha256" or len(value) != 64 or value.strip("0123456789abcdef"):
        raise InvalidReference("not a sha256 digest: %r" % digest)
    return value


def _read_json(path):
    with open(path, "rb") as handle:
        return json.loads(handle.read().decode("utf-8"))


def _dump(obj):
    return json.dumps(obj, sort_keys=True, indent=1).encode("utf-8")


class ImageRecord(object):
    """One image in the store (see the module docstring for the stable fields)."""

    def __init__(self, store, record, repo_tags=(), repo_digests=()):
        self._store = store
        self._record = record
        self._config = None
        self.id = record["id"]
        self.layers = record["layers"]
        self.created = record.get("created", "")
        self.size = record.get("size", 0)
        self.repo_tags = list(repo_tags)
        self.repo_digests = list(repo_digests)

    @property
    def short_id(self):
        return self.id.split(":", 1)[1][:12]

    @property
    def config(self):
        if self._config is None:
            with open(self._store.blob_path(self.id), "rb") as handle:
                self._config = json.loads(handle.read().decode("utf-8"))
        return self._config

    @property
    def diff_ids(self):
        return [layer["diff_id"] for layer in self.layers]

    @property
    def record(self):
        return self._record

    def __repr__(self):
        return "ImageRecord(%s, %r)" % (self.short_id, self.repo_tags)


def _lock_if_current(lock_path, blocking):
    """flock ``lock_path`` (created if missing); None if busy or if it was unlinked meanwhile.

    The inode check closes the race with a cleaner that removes a lock file
    between our open and our flock: a lock on an unlinked file protects nothing.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino != os.stat(lock_path).st_ino:
            raise FileNotFoundError(lock_path)
    except OSError:
        os.close(fd)
        return None
    return fd


class Work(object):
    """A private scratch directory under ``tmp/``, marked live by an flock."""

    def __init__(self, tmp_dir):
        while True:
            self.name = _new_name()
            self.path = os.path.join(tmp_dir, self.name)
            self._lock_path = self.path + ".lock"
            self._lock_fd = _lock_if_current(self._lock_path, blocking=True)
            if self._lock_fd is not None:
                break
        os.mkdir(self.path, 0o700)

    def file(self, name):
        return os.path.join(self.path, name)

    def close(self):
        if os.path.lexists(self.path):
            _rmtree(self.path)
        with contextlib.suppress(OSError):
            os.unlink(self._lock_path)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Store(object):
    """The image store under ``root`` (see the module docstring for the contract)."""

    in_use_checkers = []

    def __init__(self, root=DEFAULT_ROOT):
        self.root = os.path.abspath(root)
        self.base = os.path.join(self.root, "image")
        self.blob_dir = os.path.join(self.base, "blobs", "sha256")
        self.image_dir = os.path.join(self.base, "images")
        self.layer_dir = os.path.join(self.base, "layers")
        self.tmp_dir = os.path.join(self.base, "tmp")
        self.index_path = os.path.join(self.base, "repositories.json")
        self.lock_path = os.path.join(self.base, "lock")
        if not os.path.isdir(self.tmp_dir):
            for path in (self.blob_dir, self.image_dir, self.layer_dir, self.tmp_dir):
                os.makedirs(path, 0o700, exist_ok=True)

    # -- locking and scratch space -----------------------------------------
    def lock(self):
        return locked(self.lock_path)

    def work(self):
        """A scratch directory that is removed on exit and is never mistaken for stale."""
        return Work(self.tmp_dir)

    def remove_stale_work(self):
        """Remove scratch left by killed processes (their flock is gone with them)."""
        try:
            names = os.listdir(self.tmp_dir)
        except FileNotFoundError:
            return 0
        removed = 0
        for name in sorted({n[:-len(".lock")] if n.endswith(".lock") else n for n in names}):
            lock_path = os.path.join(self.tmp_dir, name + ".lock")
            fd = _lock_if_current(lock_path, blocking=False)
            if fd is None:
                continue
            try:
                path = os.path.join(self.tmp_dir, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    _rmtree(path)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                with contextlib.suppress(OSError):
                    os.unlink(lock_path)
                removed += 1
            finally:
                os.close(fd)
        return removed

    # -- blobs -------------------------------------------------------------
    def blob_path(self, digest):
        return os.path.join(self.blob_dir, _hex(digest))

    def has_blob(self, digest):
        return os.path.exists(self.blob_path(digest))

    def read_blob(self, digest):
        with open(self.blob_path(digest), "rb") as handle:
            return handle.read()

    def put_blob_bytes(self, data, digest=None):
        """Store ``data``; returns its digest.  The caller's ``digest`` is checked."""
        actual = "sha256:" + sha256_hex(data)
        if digest is not None and digest != actual:
            from .errors import IntegrityError
            raise IntegrityError("blob %s: content has digest %s" % (digest, actual))
        path = self.blob_path(actual)
        if not os.path.exists(path):
            atomic_write(path, data, mode=0o600)
        return actual

    def commit_blob_file(self, tmp_path, digest):
        """Move a verified temp file into place (same filesystem, atomic)."""
        path = self.blob_path(digest)
        if os.path.exists(path):
            os.unlink(tmp_path)
        else:
            os.chmod(tmp_path, 0o600)
            os.rename(tmp_path, path)

    # -- layers ------------------------------------------------------------
    def layer_path(self, chain_id):
        return os.path.join(self.layer_dir, _hex(chain_id))

    def has_layer(self, chain_id):
        return os.path.exists(os.path.join(self.layer_path(chain_id), "layer.json"))

    def layer_info(self, chain_id):
        return _read_json(os.path.join(self.layer_path(chain_id), "layer.json"))

    def commit_layer(self, work_dir, info):
        """Move an unpacked, verified layer (``work_dir/diff``) into place.

        ``info`` must hold ``chain_id`` and ``diff_id``; it is written as
        ``layer.json`` first, so a layer directory with a ``layer.json`` is
        always complete.  Returns False when another process won the race.
        """
        target = self.layer_path(info["chain_id"])
        atomic_write(os.path.join(work_dir, "layer.json"), _dump(info), mode=0o600)
        with self.lock():
            if self.has_layer(info["chain_id"]):
                return False
            if os.path.lexists(target):
                self._discard(target)
            os.rename(work_dir, target)
        return True

    def layer_dirs(self, image):
        """Absolute paths of the image's unpacked layers, lowest first.  Read-only to callers."""
        if not isinstance(image, ImageRecord):
            image = self.resolve(image)
        return [os.path.join(self.layer_path(layer["chain_id"]), "diff") for layer in image.layers]

    def _discard(self, path):
        """Rename ``path`` into tmp (atomic), then delete it: a kill never leaves half a layer live."""
        trash = os.path.join(self.tmp_dir, "trash-" + _new_name())
        os.rename(path, trash)
        _rmtree(trash)

    # -- index -------------------------------------------------------------
    def _load_index(self):
        try:
            index = _read_json(self.index_path)
        except FileNotFoundError:
            index = {}
        index.setdefault("tags", {})
        index.setdefault("digests", {})
        return index

    def _save_index(self, index):
        atomic_write(self.index_path, _dump(index), mode=0o600)

    def _image_path(self, image_id):
        return os.path.join(self.image_dir, _hex(image_id) + ".json")

    def has_image(self, image_id):
        return os.path.exists(self._image_path(image_id))

    def _load_record(self, image_id):
        try:
            return _read_json(self._image_path(image_id))
        except FileNotFoundError:
            raise ImageNotFound("No such image: %s" % image_id)

    def _refs_of(self, index, image_id):
        tags = sorted(ref for ref, target in index["tags"].items() if target == image_id)
        digests = sorted(ref for ref, target in index["digests"].items() if target == image_id)
        return tags, digests

    def _record(self, index, image_id):
        tags, digests = self._refs_of(index, image_id)
        return ImageRecord(self, self._load_record(image_id),
                           [_familiar(ref) for ref in tags], [_familiar(ref) for ref in digests])

    # -- images ------------------------------------------------------------
    def add_image(self, config_bytes, layers, tags=(), digests=(), manifest=None):
        """Record an image whose layers are already committed; tag it.

        ``layers`` is a list of dicts with ``digest``, ``size``, ``media_type``,
        ``diff_id`` (lowest first).  Returns the ``ImageRecord``.
        """
        image_id = self.put_blob_bytes(config_bytes)
        config = json.loads(config_bytes.decode("utf-8"))
        chains = chain_ids([layer["diff_id"] for layer in layers])
        entries = []
        total = 0
        for layer, chain in zip(layers, chains):
            info = self.layer_info(chain)
            entry = dict(layer)
            entry["chain_id"] = chain
            entry["content_size"] = info.get("content_size", 0)
            total += entry["content_size"]
            entries.append(entry)
        record = {"id": image_id, "created": config.get("created", ""), "size": total,
                  "layers": entries, "architecture": config.get("architecture", ""),
                  "os": config.get("os", "")}
        if manifest is not None:
            record["manifest"] = manifest
        with self.lock():
            path = self._image_path(image_id)
            if os.path.exists(path):
                old = _read_json(path)
                if manifest is None and "manifest" in old:
                    record["manifest"] = old["manifest"]
            if not os.path.exists(path) or _read_json(path) != record:
                atomic_write(path, _dump(record), mode=0o600)
            index = self._load_index()
            changed = False
            for ref in tags:
                changed |= index["tags"].get(str(ref)) != image_id
                index["tags"][str(ref)] = image_id
            for ref in digests:
                changed |= index["digests"].get(str(ref)) != image_id
                index["digests"][str(ref)] = image_id
            if changed:
                self._save_index(index)
            return self._record(index, image_id)

    def images(self):
        """Every image, newest first (as ``berth images`` lists them)."""
        index = self._load_index()
        tags_by_id = {}
        for ref, image_id in index["tags"].items():
            tags_by_id.setdefault(image_id, []).append(ref)
        digests_by_id = {}
        for ref, image_id in index["digests"].items():
            digests_by_id.setdefault(image_id, []).append(ref)
        result = []
        for name in os.listdir(self.image_dir):
            if not name.endswith(".json"):
                continue
            try:
                record = _read_json(os.path.join(self.image_dir, name))
            except (OSError, ValueError):
                continue
            image_id = record["id"]
            result.append(ImageRecord(
                self, record, [_familiar(r) for r in sorted(tags_by_id.get(image_id, ()))],
                [_familiar(r) for r in sorted(digests_by_id.get(image_id, ()))]))
        result.sort(key=lambda image: image.created, reverse=True)
        return result

    def lookup_id(self, ref_or_id):
        """The image ID ``ref_or_id`` names, or raise ``ImageNotFound``."""
        index = self._load_index()
        return self._lookup(index, ref_or_id)

    def _lookup(self, index, ref_or_id):
        from . import reference
        text = ref_or_id.strip()
        if text.startswith("sha256:") and len(text) == 71:
            if self.has_image(text):
                return text
            raise ImageNotFound("No such image: %s" % ref_or_id)
        try:
            ref = reference.parse(text)
        except InvalidReference:
            ref = None
        if ref is not None:
            if ref.digest:
                key = ref.name + "@" + ref.digest
                if key in index["digests"]:
                    return index["digests"][key]
                if ref.tag is None and self.has_image(ref.digest):
                    return ref.digest
            else:
                key = str(ref.with_default_tag())
                if key in index["tags"]:
                    return index["tags"][key]
        prefix = text[len("sha256:"):] if text.startswith("sha256:") else text
        if prefix and not prefix.strip("0123456789abcdef") and len(prefix) <= 64:
            matches = [name[:-5] for name in os.listdir(self.image_dir)
                       if name.endswith(".json") and name.startswith(prefix)]
            if len(matches) == 1:
                return "sha256:" + matches[0]
            if len(matches) > 1:
                raise ImageNotFound("ambiguous image ID prefix %r matches %d images" % (text, len(matches)))
        raise ImageNotFound("No such image: %s" % ref_or_id)

    def resolve(self, ref_or_id):
        index = self._load_index()
        return self._record(index, self._lookup(index, ref_or_id))

    def tag(self, source, target):
        """Point the tag ``target`` at the image ``source`` names."""
        from . import reference
        ref = reference.parse(target)
        if ref.digest:
            raise InvalidReference("refusing to create a tag with a digest reference: %s" % target)
        ref = ref.with_default_tag()
        with self.lock():
            index = self._load_index()
            image_id = self._lookup(index, source)
            if index["tags"].get(str(ref)) != image_id:
                index["tags"][str(ref)] = image_id
                index.setdefault("tagged_at", {})[str(ref)] = time.time()
                self._save_index(index)
        return image_id

    def add_reference(self, image_id, ref_text, digest=False):
        """Record ``name@sha256:...`` (``digest=True``) or ``name:tag`` for ``image_id``."""
        with self.lock():
            index = self._load_index()
            table = index["digests" if digest else "tags"]
            if table.get(ref_text) != image_id:
                table[ref_text] = image_id
                self._save_index(index)

    # -- removal -----------------------------------------------------------
    def images_in_use(self):
        used = set()
        for checker in list(self.in_use_checkers):
            used.update(checker(self))
        return used

    def image_users(self, image_id):
        """True when a registered checker reports ``image_id`` in use by a container."""
        return image_id in self.images_in_use()

    def remove(self, ref_or_id, force=False, prune=True):
        """Docker's ``rmi`` for one argument; returns ``[("Untagged"|"Deleted", what), ...]``.

        ``prune`` is accepted for ``--no-prune``: berth keeps no parent images
        (each image is its own list of layers), so there is nothing else to prune.
        """
        del prune
        from . import reference
        events = []
        with self.lock():
            index = self._load_index()
            image_id = self._lookup(index, ref_or_id)
            tags, digests = self._refs_of(index, image_id)
            in_use = self.image_users(image_id)
            by_id = _is_id_prefix(image_id, ref_or_id)
            if not by_id:
                ref = reference.parse(ref_or_id)
                key = (ref.name + "@" + ref.digest) if ref.digest else str(ref.with_default_tag())
                if in_use and not force and len(tags) + len(digests) == 1:
                    raise ImageConflict(
                        "conflict: unable to remove repository reference %r (must force) - "
                        "a container is using its referenced image %s" % (ref_or_id, image_id[7:19]))
                if key in index["tags"]:
                    del index["tags"][key]
                    index.get("tagged_at", {}).pop(key, None)
                else:
                    index["digests"].pop(key, None)
                events.append(("Untagged", _familiar(key)))
                remaining_tags, _ = self._refs_of(index, image_id)
                if not remaining_tags and not ref.digest:
                    # Docker drops the repository's digest references with its last tag.
                    for dref in [d for d in digests if d.split("@", 1)[0] == ref.name]:
                        del index["digests"][dref]
                        events.append(("Untagged", _familiar(dref)))
                tags, digests = self._refs_of(index, image_id)
                if tags or digests:
                    self._save_index(index)
                    return events
            else:
                if not force and not _single_reference(tags, digests):
                    raise ImageConflict(
                        "conflict: unable to delete %s (must be forced) - image is referenced in "
                        "multiple repositories" % image_id[7:19])
                if in_use and not force:
                    raise ImageConflict(
                        "conflict: unable to delete %s (must be forced) - image is being used by a "
                        "container" % image_id[7:19])
                for ref in tags:
                    del index["tags"][ref]
                    index.get("tagged_at", {}).pop(ref, None)
                    events.append(("Untagged", _familiar(ref)))
                for ref in digests:
                    del index["digests"][ref]
                    events.append(("Untagged", _familiar(ref)))
            self._save_index(index)
            if in_use:
                if not force:
                    # Docker too leaves the tag removed and reports the conflict.
                    raise ImageConflict(
                        "conflict: unable to delete %s (must be forced) - image is being used by a "
                        "container" % image_id[7:19])
                # A container stacks these layers: keep the image, untagged.
                return events
            events.extend(self._delete_image(image_id))
        return events

    def _delete_image(self, image_id):
        """Delete the record, then every layer and blob no other image references."""
        record = self._load_record(image_id)
        os.unlink(self._image_path(image_id))
        events = [("Deleted", image_id)]
        still_used_chains = set()
        still_used_blobs = set()
        for name in os.listdir(self.image_dir):
            if not name.endswith(".json"):
                continue
            other = _read_json(os.path.join(self.image_dir, name))
            still_used_blobs.add(other["id"])
            for layer in other["layers"]:
                still_used_chains.add(layer["chain_id"])
                still_used_blobs.add(layer["digest"])
            if other.get("manifest"):
                still_used_blobs.add(other["manifest"])
        for layer in reversed(record["layers"]):
            chain = layer["chain_id"]
            if chain not in still_used_chains and os.path.lexists(self.layer_path(chain)):
                self._discard(self.layer_path(chain))
                events.append(("Deleted", chain))
                still_used_chains.add(chain)
        for digest in [layer["digest"] for layer in record["layers"]] + [image_id, record.get("manifest")]:
            if digest and digest not in still_used_blobs:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.blob_path(digest))
        return events


def _familiar(ref_text):
    """``docker.io/library/centos:7`` -> ``centos:7``; other registries unchanged."""
    if ref_text.startswith("docker.io/"):
        rest = ref_text[len("docker.io/"):]
        if rest.startswith("library/") and "/" not in rest[len("library/"):].split("@")[0].split(":")[0]:
            return rest[len("library/"):]
        return rest
    return ref_text


def _is_id_prefix(image_id, text):
    text = text.strip()
    hexpart = image_id[len("sha256:"):]
    if text.startswith("sha256:"):
        return hexpart.startswith(text[len("sha256:"):])
    return bool(text) and hexpart.startswith(text)


def _single_reference(tags, digests):
    """Docker's isSingleReference: at most one tag, and digests only of that repository."""
    if len(tags) > 1:
        return False
    names = {d.split("@", 1)[0] for d in digests}
    if not tags:
        return len(names) <= 1
    name = tags[0].rsplit(":", 1)[0]
    return not names or names == {name}
