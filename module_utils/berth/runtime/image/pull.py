"""Pull an image from a registry into the store.

Each missing layer goes through one pipeline: a fetch thread reads the blob
(resuming with Range), hashes it and writes it to a scratch file, while the
layer's own thread decompresses, hashes the tar stream (DiffID) and unpacks
it.  Up to three layers run at once.  A layer is committed only after both
digests match; the image is recorded only after all its layers are.
"""
import hashlib
import json
import os
import queue
import threading

from . import reference
from .errors import BerthError, IntegrityError, RegistryError, UnpackError
from .registry import INDEX_TYPES, MANIFEST_TYPES, Repository
from .store import chain_ids

MAX_CONCURRENT_DOWNLOADS = 3
_END = object()


class Reporter(object):
    """Receives pull progress; the CLI renders it.  Every method may be called from any thread."""

    def message(self, text):
        pass

    def layer(self, short_id, status, current=None, total=None):
        pass


def short(digest):
    return digest.split(":", 1)[-1][:12]


def select_manifest(index, platform=None):
    """Pick the index entry for ``platform`` (``(os, arch, variant)``; default: this host)."""
    from .hostarch import host_platform
    want_os, want_arch, want_variant = platform or host_platform()
    candidates = []
    for entry in index.get("manifests") or []:
        if entry.get("mediaType") not in MANIFEST_TYPES + ("",) and "mediaType" in entry:
            continue
        plat = entry.get("platform") or {}
        if plat.get("os") != want_os or plat.get("architecture") != want_arch:
            continue
        variant = plat.get("variant", "")
        if want_variant and variant and variant != want_variant:
            continue
        candidates.append((variant == want_variant, entry))
    if not candidates:
        raise RegistryError("no matching manifest for %s/%s%s in the manifest list entries"
                            % (want_os, want_arch, "/" + want_variant if want_variant else ""))
    candidates.sort(key=lambda item: not item[0])
    return candidates[0][1]


def _parse_manifest(body, media_type, what):
    try:
        document = json.loads(body.decode("utf-8"))
    except ValueError as err:
        raise RegistryError("manifest %s is not JSON: %s" % (what, err))
    if not isinstance(document, dict):
        raise RegistryError("manifest %s is not a JSON object" % what)
    if "manifests" in document and ("layers" in document or "config" in document):
        raise IntegrityError("manifest %s is ambiguous: it has both manifests and layers" % what)
    declared = document.get("mediaType")
    if declared and media_type and media_type in INDEX_TYPES + MANIFEST_TYPES and declared != media_type:
        raise IntegrityError("manifest %s: body says %s, Content-Type says %s" % (what, declared, media_type))
    kind = declared or media_type
    if not kind:
        kind = INDEX_TYPES[1] if "manifests" in document else MANIFEST_TYPES[1]
    if document.get("schemaVersion") != 2:
        raise RegistryError("manifest %s has schemaVersion %r: only schema 2 and OCI manifests are supported"
                            % (what, document.get("schemaVersion")))
    return document, kind


class Puller(object):
    def __init__(self, store, client, reporter=None, platform=None, max_concurrent=MAX_CONCURRENT_DOWNLOADS):
        self.store = store
        self.client = client
        self.reporter = reporter or Reporter()
        self.platform = platform
        self.max_concurrent = max_concurrent

    def pull(self, ref_text):
        """Pull ``ref_text``; returns ``(ImageRecord, downloaded_anything)``."""
        ref = reference.parse(ref_text) if isinstance(ref_text, str) else ref_text
        ref = ref.with_default_tag()
        self.store.remove_stale_work()
        repo = Repository(self.client, ref)
        wanted = ref.digest or ref.tag
        body, media_type, digest = repo.get_manifest(wanted)
        repo_digest = digest
        document, kind = _parse_manifest(body, media_type, str(ref))
        if kind in INDEX_TYPES:
            entry = select_manifest(document, self.platform)
            body, media_type, digest = repo.get_manifest(entry["digest"])
            if entry.get("size") is not None and entry["size"] != len(body):
                raise IntegrityError("manifest %s: index says %d bytes, got %d"
                                     % (entry["digest"], entry["size"], len(body)))
            document, kind = _parse_manifest(body, media_type, entry["digest"])
            if kind in INDEX_TYPES:
                raise RegistryError("manifest %s is a nested index" % entry["digest"])
        config_desc = document.get("config") or {}
        layer_descs = document.get("layers") or []
        image_id = config_desc.get("digest")
        if not image_id:
            raise RegistryError("manifest of %s has no config" % ref)
        tags = [str(ref.with_tag(ref.tag))] if ref.tag else []
        digests = [ref.name + "@" + repo_digest]
        if self.store.has_image(image_id) and self.store.has_blob(image_id):
            record = self.store.resolve(image_id)
            if all(self.store.has_layer(layer["chain_id"]) for layer in record.layers):
                self.store.put_blob_bytes(body)
                record = self.store.add_image(self.store.read_blob(image_id), _strip(record.layers),
                                              tags, digests, manifest=digest)
                return record, False
        if self.store.has_blob(image_id):
            config_bytes = self.store.read_blob(image_id)
        else:
            config_bytes = repo.fetch_blob(image_id, config_desc.get("size"))
        config = json.loads(config_bytes.decode("utf-8"))
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(layer_descs):
            raise IntegrityError("layers from manifest don't match image configuration: %d layers, %d DiffIDs"
                                 % (len(layer_descs), len(diff_ids)))
        chains = chain_ids(diff_ids)
        layers = []
        todo = []
        for desc, diff_id, chain in zip(layer_descs, diff_ids, chains):
            layers.append({"digest": desc["digest"], "size": desc.get("size"),
                           "media_type": desc.get("mediaType", ""), "diff_id": diff_id})
            if self.store.has_layer(chain):
                self.reporter.layer(short(desc["digest"]), "Already exists")
            else:
                self.reporter.layer(short(desc["digest"]), "Pulling fs layer")
                todo.append((desc, diff_id, chain))
        self._pull_layers(repo, todo)
        self.store.put_blob_bytes(body)
        record = self.store.add_image(config_bytes, layers, tags, digests, manifest=digest)
        self.reporter.message("Digest: %s" % repo_digest)
        return record, True

    def _pull_layers(self, repo, todo):
        if not todo:
            return
        cancel = threading.Event()
        errors = []
        pending = list(todo)
        lock = threading.Lock()

        def worker():
            while not cancel.is_set():
                with lock:
                    if not pending:
                        return
                    job = pending.pop(0)
                try:
                    self._pull_layer(repo, job[0], job[1], job[2], cancel)
                except BaseException as err:  # handed to the main thread below
                    with lock:
                        errors.append(err)
                    cancel.set()
                    return

        threads = [threading.Thread(target=worker, name="berth-pull-%d" % i, daemon=True)
                   for i in range(min(self.max_concurrent, len(todo)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise _first_meaningful(errors)

    def _pull_layer(self, repo, desc, diff_id, chain, cancel):
        """Fetch | inflate | unpack, each stage in its own thread, then verify and commit."""
        import zlib

        from .unpack import decompressed, unpack
        digest = desc["digest"]
        size = desc.get("size")
        sid = short(digest)
        # Foreign layers' "urls" are never followed (CVE-2020-15157): blobs come from the registry.
        with self.store.work() as work:
            blob_path = work.file("blob")
            layer_path = work.file("layer")
            diff_path = work.file("layer/diff")
            os.makedirs(diff_path, 0o755)
            fetch_state = {"digest": None, "size": 0, "done": False, "error": None}

            def on_retry(attempt, message):
                self.reporter.layer(sid, "Retrying (%d): %s" % (attempt, message))

            def fetched():
                hasher = hashlib.sha256()
                received = 0
                with open(blob_path, "wb") as out:
                    for chunk in repo.iter_blob(digest, size, cancelled=cancel, on_retry=on_retry):
                        hasher.update(chunk)
                        out.write(chunk)
                        received += len(chunk)
                        self.reporter.layer(sid, "Downloading", received, size)
                        yield chunk
                fetch_state["digest"] = "sha256:" + hasher.hexdigest()
                fetch_state["size"] = received
                fetch_state["done"] = not cancel.is_set()

            diff_hasher = hashlib.sha256()
            tar_size = [0]

            def hashed(blocks):
                # In the unpacking thread: it waits on the kernel more than the inflating one.
                for block in blocks:
                    diff_hasher.update(block)
                    tar_size[0] += len(block)
                    yield block

            fetch_stage = _Stage(fetched(), "berth-fetch-" + sid)
            inflate_stage = _Stage(decompressed(fetch_stage), "berth-inflate-" + sid)
            try:
                if cancel.is_set():
                    raise _Cancelled()
                writer = unpack(hashed(inflate_stage), diff_path)
            except (zlib.error, UnpackError, EOFError) as err:
                inflate_stage.close()
                if isinstance(err, UnpackError) and "escapes" in str(err):
                    fetch_stage.close()
                else:
                    # Corrupt data: read the blob to its end so the digest names the culprit.
                    for _ in fetch_stage:
                        pass
                self._check_blob(fetch_state, digest, size)
                raise UnpackError("layer %s: %s" % (digest, err))
            except BaseException:
                inflate_stage.close()
                fetch_stage.close()
                raise
            inflate_stage.close()
            fetch_stage.close()
            if cancel.is_set():
                raise _Cancelled()
            self._check_blob(fetch_state, digest, size)
            actual_diff = "sha256:" + diff_hasher.hexdigest()
            if actual_diff != diff_id:
                raise IntegrityError("layer %s: uncompressed content hashes to %s, but the image config "
                                     "says DiffID %s" % (digest, actual_diff, diff_id))
            self.reporter.layer(sid, "Download complete")
            self.store.commit_blob_file(blob_path, digest)
            self.store.commit_layer(layer_path, {
                "chain_id": chain, "diff_id": diff_id, "digest": digest, "size": size,
                "media_type": desc.get("mediaType", ""), "tar_size": tar_size[0],
                "content_size": writer.content_size, "entries": writer.entries})
            self.reporter.layer(sid, "Pull complete")

    @staticmethod
    def _check_blob(state, digest, size):
        if state["error"] is not None:
            raise state["error"]
        if not state["done"]:
            raise _Cancelled()
        if size is not None and state["size"] != size:
            raise IntegrityError("filesystem layer verification failed for digest %s: got %d bytes, "
                                 "expected %d" % (digest, state["size"], size))
        if state["digest"] != digest:
            raise IntegrityError("filesystem layer verification failed for digest %s: content hashes to %s"
                                 % (digest, state["digest"]))


class _Cancelled(BerthError):
    pass


class _Stage(object):
    """Runs an iterator in its own thread; iterating the stage yields its items.

    An exception in the thread is re-raised in the consumer once the items
    before it are consumed.  ``close()`` stops the thread and waits for it.
    """

    def __init__(self, source, name, depth=16):
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(source,), name=name, daemon=True)
        self._thread.start()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, source):
        try:
            for item in source:
                if not self._put(item):
                    return
        except BaseException as err:  # re-raised in the consuming thread
            self._error = err
        finally:
            self._put(_END)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is _END:
                self._queue.put(_END)
                if self._error is not None:
                    raise self._error
                return
            yield item

    def close(self):
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()


def _first_meaningful(errors):
    for err in errors:
        if not isinstance(err, _Cancelled):
            return err
    return errors[0]


def _strip(layers):
    return [{"digest": layer["digest"], "size": layer.get("size"), "media_type": layer.get("media_type", ""),
             "diff_id": layer["diff_id"]} for layer in layers]
