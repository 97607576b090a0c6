"""The container half's only door into the image store (issue 6's Store contract).

``resolve(root, ref)`` -> ImageInfo(id, ref, config, layers lowest first).
``dir:/abs/path`` names a directory used as a single read-only layer (like
podman's --rootfs): handy for tests and for hosts that have a rootfs but no
image store.
"""
import os


class ImageInfo(object):
    def __init__(self, image_id, ref, config, layers):
        self.id = image_id
        self.ref = ref
        self.config = config or {}
        self.layers = list(layers)


def _store(root):
    from ..image.store import Store
    return Store(root=root)


def resolve(root, ref):
    if ref.startswith("dir:"):
        path = os.path.abspath(ref[4:])
        if not os.path.isdir(path):
            from .errors import NotFound
            raise NotFound("Unable to find image '%s': no such directory" % ref)
        return ImageInfo("dir:" + path, ref, {}, [path])
    store = _store(root)
    try:
        image = store.resolve(ref)
    except Exception as exc:
        if type(exc).__name__ == "ImageNotFound":
            from .errors import NotFound
            raise NotFound("Unable to find image '%s' locally" % ref) from None
        raise
    config = (image.config or {}).get("config") or {}
    return ImageInfo(image.id, ref, config, store.layer_dirs(image))


def register_in_use_checker(checker):
    """Tell the image store which image ids containers use, so rmi refuses them."""
    try:
        from ..image.store import Store
    except ImportError:
        return
    if checker not in Store.in_use_checkers:
        Store.in_use_checkers.append(checker)
