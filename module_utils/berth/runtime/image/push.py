"""Push an image from the store to a registry (so a private registry can be seeded)."""
import hashlib
import json
import os

from . import reference
from .registry import (
    MEDIA_DOCKER_CONFIG,
    MEDIA_DOCKER_LAYER,
    MEDIA_DOCKER_LAYER_TAR,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER,
    MEDIA_OCI_MANIFEST,
    Repository,
)

_OCI_TO_DOCKER = {
    MEDIA_OCI_LAYER + "+gzip": MEDIA_DOCKER_LAYER,
    MEDIA_OCI_LAYER: MEDIA_DOCKER_LAYER_TAR,
}


def build_manifest(image, blob_sizes):
    """A Docker schema 2 manifest (OCI when a layer has no Docker media type, e.g. zstd)."""
    layer_types = [_OCI_TO_DOCKER.get(layer.get("media_type"), layer.get("media_type") or MEDIA_DOCKER_LAYER)
                   for layer in image.layers]
    oci = any(not t.startswith("application/vnd.docker.") for t in layer_types)
    if oci:
        layer_types = [layer.get("media_type") or MEDIA_OCI_LAYER + "+gzip" for layer in image.layers]
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST if oci else MEDIA_DOCKER_MANIFEST,
        "config": {"mediaType": MEDIA_OCI_CONFIG if oci else MEDIA_DOCKER_CONFIG,
                   "size": blob_sizes[image.id], "digest": image.id},
        "layers": [{"mediaType": media, "size": blob_sizes[layer["digest"]], "digest": layer["digest"]}
                   for media, layer in zip(layer_types, image.layers)],
    }
    return json.dumps(manifest, indent=3).encode("utf-8"), manifest["mediaType"]


def push(store, client, ref_text, say=print):
    """Push the image tagged ``ref_text``; returns the manifest digest."""
    ref = reference.parse(ref_text).with_default_tag()
    image = store.resolve(str(ref))
    repo = Repository(client, ref, push=True)
    say("The push refers to repository [%s]" % ref.name)
    sources = _mount_sources(store, ref)
    sizes = {}
    for layer in reversed(image.layers):
        digest = layer["digest"]
        path = store.blob_path(digest)
        sizes[digest] = os.path.getsize(path)
        sid = layer["diff_id"].split(":", 1)[1][:12]
        if repo.blob_exists(digest):
            say("%s: Layer already exists" % sid)
            continue
        say("%s: Preparing" % sid)
        source = sources.get(digest)
        with open(path, "rb") as handle:
            how = repo.upload_blob(digest, sizes[digest], handle, mount_from=source)
        say("%s: Mounted from %s" % (sid, source) if how == "mounted" else "%s: Pushed" % sid)
    config_path = store.blob_path(image.id)
    sizes[image.id] = os.path.getsize(config_path)
    if not repo.blob_exists(image.id):
        with open(config_path, "rb") as handle:
            repo.upload_blob(image.id, sizes[image.id], handle)
    data, media_type = build_manifest(image, sizes)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    repo.put_manifest(ref.tag, data, media_type)
    store.put_blob_bytes(data)
    store.add_reference(image.id, ref.name + "@" + digest, digest=True)
    say("%s: digest: %s size: %d" % (ref.tag, digest, len(data)))
    return digest


def _mount_sources(store, ref):
    """Blob digest -> another repository on the same registry whose image has it (for a mount)."""
    sources = {}
    for image in store.images():
        for name in image.repo_tags + image.repo_digests:
            other = reference.parse(name)
            if other.domain != ref.domain or other.path == ref.path:
                continue
            for layer in image.layers:
                sources.setdefault(layer["digest"], other.path)
    return sources
