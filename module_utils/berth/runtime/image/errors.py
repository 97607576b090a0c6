"""Errors raised by berth's image half.

Every error is a ``BerthError`` so a caller (the CLI, an Ansible module, the
API server) can catch the whole family at its edge and print ``str(err)``,
which always names the object and, where there is one, what to do.
"""


class BerthError(Exception):
    """Base of every error berth raises on purpose."""


class InvalidReference(BerthError):
    """An image name, tag or digest that does not parse."""


class ImageNotFound(BerthError):
    """No image in the store matches the reference or ID."""


class ImageConflict(BerthError):
    """An operation that would break an invariant unless forced (rmi)."""


class RegistryError(BerthError):
    """The registry answered with an error, or could not be reached."""

    def __init__(self, message, status=None):
        BerthError.__init__(self, message)
        self.status = status


class ManifestNotFound(RegistryError):
    """The registry has no manifest for that reference."""


class AuthError(RegistryError):
    """The registry refused our credentials, or wants some we do not have."""


class IntegrityError(BerthError):
    """Content did not match its digest or size; nothing was committed."""


class UnpackError(BerthError):
    """A layer archive is malformed or tries to write outside its root."""
