"""Images in and out of tar files: ``import`` (a rootfs tarball becomes a
one-layer image), ``save`` and ``load`` (Docker's image archive format:
``manifest.json`` + ``repositories`` + config and layer tars).
"""
import hashlib
import json
import os
import shlex
import tarfile
import time
import zlib

from . import reference
from .errors import BerthError, IntegrityError
from .hostarch import host_platform
from .registry import MEDIA_DOCKER_LAYER
from .store import chain_ids
from .unpack import decompressed, sniff_compression, unpack

READ_CHUNK = 1 << 20
GZIP_LEVEL = 6


def rfc3339_now():
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%09dZ" % int((now % 1) * 1e9)


def read_chunks(fileobj, size=READ_CHUNK):
    while True:
        data = fileobj.read(size)
        if not data:
            return
        yield data


def ingest_layer(store, raw_chunks, parent_chain=None, expected_diff_id=None):
    """Unpack one layer stream (any compression) and commit it with a gzip blob.

    A gzip stream is kept as it came (its digest is the blob digest); anything
    else is compressed once while it is unpacked.  Returns the layer descriptor
    dict the store records (``digest``, ``size``, ``media_type``, ``diff_id``).
    """
    kind, head, iterator = sniff_compression(raw_chunks)

    def raw():
        if head:
            yield head
        for chunk in iterator:
            yield chunk

    with store.work() as work:
        blob_path = work.file("blob")
        diff_path = work.file("layer/diff")
        os.makedirs(diff_path, 0o755)
        blob_hash = hashlib.sha256()
        diff_hash = hashlib.sha256()
        blob_size = [0]
        tar_size = [0]
        with open(blob_path, "wb") as blob:
            def keep(data):
                blob_hash.update(data)
                blob.write(data)
                blob_size[0] += len(data)

            if kind == "gzip":
                def teed():
                    for chunk in raw():
                        keep(chunk)
                        yield chunk
                source = decompressed(teed())
                compressor = None
            else:
                source = decompressed(raw())
                compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)

            def tar_stream():
                for block in source:
                    diff_hash.update(block)
                    tar_size[0] += len(block)
                    if compressor is not None:
                        keep(compressor.compress(block))
                    yield block
                if compressor is not None:
                    keep(compressor.flush())

            writer = unpack(tar_stream(), diff_path)
        diff_id = "sha256:" + diff_hash.hexdigest()
        if expected_diff_id is not None and diff_id != expected_diff_id:
            raise IntegrityError("layer hashes to %s, but the image config says DiffID %s"
                                 % (diff_id, expected_diff_id))
        digest = "sha256:" + blob_hash.hexdigest()
        chain = chain_ids([parent_chain, diff_id])[1] if parent_chain else diff_id
        store.commit_blob_file(blob_path, digest)
        store.commit_layer(work.file("layer"), {
            "chain_id": chain, "diff_id": diff_id, "digest": digest, "size": blob_size[0],
            "media_type": MEDIA_DOCKER_LAYER, "content_size": writer.content_size,
            "entries": writer.entries, "tar_size": tar_size[0]})
    return {"digest": digest, "size": blob_size[0], "media_type": MEDIA_DOCKER_LAYER, "diff_id": diff_id}


def parse_changes(changes):
    """Apply ``--change`` Dockerfile instructions to an image's ``config`` dict."""
    config = {}
    for change in changes:
        instruction, _, rest = change.strip().partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction in ("CMD", "ENTRYPOINT"):
            if rest.startswith("["):
                try:
                    value = json.loads(rest)
                except ValueError:
                    raise BerthError("invalid %s in --change: %r is not a JSON array" % (instruction, rest))
            else:
                value = ["/bin/sh", "-c", rest]
            config["Cmd" if instruction == "CMD" else "Entrypoint"] = value
        elif instruction == "ENV":
            env = config.setdefault("Env", [])
            if "=" in rest.split(" ", 1)[0]:
                pairs = shlex.split(rest)
            else:
                key, _, value = rest.partition(" ")
                pairs = [key + "=" + value.strip()]
            for pair in pairs:
                key = pair.split("=", 1)[0]
                env[:] = [e for e in env if e.split("=", 1)[0] != key] + [pair]
        elif instruction == "WORKDIR":
            config["WorkingDir"] = rest
        elif instruction == "USER":
            config["User"] = rest
        elif instruction == "EXPOSE":
            for port in rest.split():
                if "/" not in port:
                    port += "/tcp"
                config.setdefault("ExposedPorts", {})[port] = {}
        elif instruction == "VOLUME":
            paths = json.loads(rest) if rest.startswith("[") else rest.split()
            for path in paths:
                config.setdefault("Volumes", {})[path] = {}
        elif instruction == "LABEL":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                config.setdefault("Labels", {})[key] = value
        elif instruction == "STOPSIGNAL":
            config["StopSignal"] = rest
        else:
            raise BerthError("%s is not a valid change command" % instruction)
    return config


def import_tarball(store, fileobj, repo_tag=None, changes=(), message=None, source="-"):
    """``berth import``: the rootfs tarball on ``fileobj`` becomes a one-layer image."""
    tag_ref = reference.parse_named_tagged(repo_tag) if repo_tag else None
    if tag_ref is not None and tag_ref.digest:
        raise BerthError("import: a digest is not a valid tag (%s)" % repo_tag)
    store.remove_stale_work()
    layer = ingest_layer(store, read_chunks(fileobj))
    osname, arch, variant = host_platform()
    created = rfc3339_now()
    config = {
        "architecture": arch,
        "os": osname,
        "created": created,
        "config": parse_changes(changes),
        "history": [{"created": created, "comment": message or "Imported from %s" % source}],
        "rootfs": {"type": "layers", "diff_ids": [layer["diff_id"]]},
    }
    if variant and arch == "arm":
        config["variant"] = variant
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode("utf-8")
    tags = [str(tag_ref)] if tag_ref is not None else []
    return store.add_image(config_bytes, [layer], tags)


# -- save / load -----------------------------------------------------------

def _add_bytes(tar, name, data, mtime):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    info.mode = 0o644
    import io
    tar.addfile(info, io.BytesIO(data))


class _Decompressed(object):
    """A file object over a blob's decompressed bytes (for ``tarfile.addfile``)."""

    def __init__(self, path):
        self._handle = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._chunks = decompressed(read_chunks(self._handle))
        self._buffer = b""

    def read(self, size=-1):
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += bytes(chunk)
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def close(self):
        self._handle.close()


def save(store, names, fileobj):
    """Write the images ``names`` as one Docker image archive to ``fileobj``."""
    images = []
    for name in names:
        image = store.resolve(name)
        try:
            ref = reference.parse(name)
        except BerthError:
            ref = None
        if ref is not None and not ref.digest and not _is_hex_prefix(name, image.id):
            tags = [ref.with_default_tag().familiar()]
        else:
            tags = list(image.repo_tags)
        images.append((image, tags))
    mtime = int(time.time())
    manifest = []
    repositories = {}
    written = set()
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for image, tags in images:
            config_name = "blobs/sha256/%s" % image.id[7:]
            if config_name not in written:
                _add_bytes(tar, config_name, store.read_blob(image.id), mtime)
                written.add(config_name)
            layer_names = []
            for layer in image.layers:
                name = "blobs/sha256/%s" % layer["diff_id"][7:]
                layer_names.append(name)
                if name in written:
                    continue
                info = tarfile.TarInfo(name)
                info.size = store.layer_info(layer["chain_id"]).get("tar_size") or _tar_size(store, layer)
                info.mtime = mtime
                info.mode = 0o644
                stream = _Decompressed(store.blob_path(layer["digest"]))
                try:
                    tar.addfile(info, stream)
                finally:
                    stream.close()
                written.add(name)
            manifest.append({"Config": config_name, "RepoTags": tags or None, "Layers": layer_names})
            for tag in tags:
                repo, _, tagname = tag.rpartition(":")
                repositories.setdefault(repo, {})[tagname] = image.id[7:]
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode("utf-8"), mtime)
        if repositories:
            _add_bytes(tar, "repositories", json.dumps(repositories).encode("utf-8"), mtime)


def _tar_size(store, layer):
    total = 0
    with open(store.blob_path(layer["digest"]), "rb") as handle:
        for chunk in decompressed(read_chunks(handle)):
            total += len(chunk)
    return total


def _is_hex_prefix(text, image_id):
    text = text[7:] if text.startswith("sha256:") else text
    return bool(text) and image_id[7:].startswith(text)


def load(store, path):
    """Load every image of the Docker image archive at ``path``; returns ``[(ImageRecord, tags)]``."""
    store.remove_stale_work()
    with tarfile.open(path, mode="r:*") as tar:
        try:
            manifest = json.loads(tar.extractfile("manifest.json").read().decode("utf-8"))
        except KeyError:
            raise BerthError("%s is not a Docker image archive: no manifest.json" % path)
        results = []
        for entry in manifest:
            config_bytes = _member_bytes(tar, entry["Config"])
            config = json.loads(config_bytes.decode("utf-8"))
            diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
            if len(diff_ids) != len(entry["Layers"]):
                raise IntegrityError("%s: %d layers, but its config lists %d DiffIDs"
                                     % (entry["Config"], len(entry["Layers"]), len(diff_ids)))
            layers = []
            chains = chain_ids(diff_ids)
            parent = None
            for name, diff_id, chain in zip(entry["Layers"], diff_ids, chains):
                if store.has_layer(chain):
                    info = store.layer_info(chain)
                    layers.append({"digest": info["digest"], "size": info["size"],
                                   "media_type": info.get("media_type", MEDIA_DOCKER_LAYER),
                                   "diff_id": diff_id})
                else:
                    member = tar.extractfile(_member(tar, name))
                    layers.append(ingest_layer(store, read_chunks(member), parent, expected_diff_id=diff_id))
                parent = chain
            tags = [str(reference.parse_named_tagged(t)) for t in (entry.get("RepoTags") or [])]
            record = store.add_image(config_bytes, layers, tags)
            results.append((record, entry.get("RepoTags") or []))
        return results


def _member(tar, name):
    try:
        member = tar.getmember(name)
    except KeyError:
        raise BerthError("image archive lacks %s" % name)
    while member.issym() or member.islnk():
        target = member.linkname if member.islnk() else os.path.normpath(
            os.path.join(os.path.dirname(member.name), member.linkname))
        member = tar.getmember(target)
    return member


def _member_bytes(tar, name):
    return tar.extractfile(_member(tar, name)).read()
