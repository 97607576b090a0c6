"""Errors of the container runtime, each naming the object and what to do."""


class ContainerError(Exception):
    """A container operation that cannot be done; the message is shown to the user."""


class NotFound(ContainerError):
    """No such container."""


class Conflict(ContainerError):
    """The container's state forbids the operation (e.g. rm of a running container)."""
