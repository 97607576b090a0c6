"""Errors of the container runtime, each naming the object and what to do.

All under common.errors' one root; each class carries its exit status and its
HTTP status there (NotFound 404, Conflict 409, SpecError 400).
"""
from ...common import errors
from ...common.errors import BerthError, CommandNotExecutable, CommandNotFound, NotModified

__all__ = ["CommandNotExecutable", "CommandNotFound", "Conflict", "ContainerError", "NotFound",
           "NotModified", "SpecError"]


class ContainerError(BerthError):
    """A container operation that cannot be done; the message is shown to the user."""


class NotFound(ContainerError, errors.NotFound):
    """No such container."""


class Conflict(ContainerError, errors.Conflict):
    """The container's state forbids the operation (e.g. rm of a running container)."""


class SpecError(ContainerError, errors.InvalidParameter):
    """A run option that cannot be honoured; raised before anything is created."""
