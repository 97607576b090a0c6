"""Errors raised by berth's image half, each under the package's one root.

``BerthError`` is common.errors' root, re-exported here for the image code's
callers; every class names the object and, where there is one, what to do.
"""
from ...common.errors import BerthError, Conflict, InvalidParameter, NotFound, Unauthorized

__all__ = ["AuthError", "BerthError", "ImageConflict", "ImageNotFound", "IntegrityError",
           "InvalidReference", "ManifestNotFound", "RegistryError", "UnpackError"]


class InvalidReference(InvalidParameter):
    """An image name, tag or digest that does not parse."""


class ImageNotFound(NotFound):
    """No image in the store matches the reference or ID."""


class ImageConflict(Conflict):
    """An operation that would break an invariant unless forced (rmi)."""


class RegistryError(BerthError):
    """The registry answered with an error, or could not be reached.

    ``registry_status`` is the registry's HTTP status, when it answered.
    """

    def __init__(self, message, status=None):
        BerthError.__init__(self, message)
        self.registry_status = status


class ManifestNotFound(RegistryError):
    """The registry has no manifest for that reference."""

    status = 404


class AuthError(RegistryError):
    """The registry refused our credentials, or wants some we do not have."""

    status = Unauthorized.status


class IntegrityError(BerthError):
    """Content did not match its digest or size; nothing was committed."""


class UnpackError(InvalidParameter):
    """A layer archive is malformed or tries to write outside its root."""
