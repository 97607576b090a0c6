"""Helpers shared by the image tests: tar layers and images built from them."""
import gzip
import io
import json
import tarfile


def layer_tar(files, whiteouts=(), opaque=(), symlinks=None):
    """An uncompressed layer: ``files`` {path: bytes}, whiteout and opaque marker paths, symlinks."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
        for path in list(whiteouts) + [p + "/.wh..wh..opq" for p in opaque]:
            if "/.wh." not in path and not path.startswith(".wh."):
                head, _, tail = path.rpartition("/")
                path = (head + "/" if head else "") + ".wh." + tail
            info = tarfile.TarInfo(path)
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(b""))
        for path, target in sorted((symlinks or {}).items()):
            info = tarfile.TarInfo(path)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def make_image(store, layers, tags=(), created="2026-01-01T00:00:00Z", cmd=None):
    """Commit gzip'd ``layers`` (lowest first) to ``store`` as one image; returns the ImageRecord."""
    from berth.runtime.image.archive import ingest_layer
    from berth.runtime.image.reference import parse_named_tagged
    from berth.runtime.image.store import chain_ids
    descs = []
    parent = None
    for raw in layers:
        desc = ingest_layer(store, [gzip.compress(raw, 6, mtime=0)], parent)
        descs.append(desc)
        parent = chain_ids([d["diff_id"] for d in descs])[-1]
    config = {"architecture": "amd64", "os": "linux", "created": created,
              "config": {"Cmd": cmd or ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"]},
              "rootfs": {"type": "layers", "diff_ids": [d["diff_id"] for d in descs]}}
    return store.add_image(json.dumps(config, sort_keys=True).encode(), descs,
                           [str(parse_named_tagged(t)) for t in tags])
