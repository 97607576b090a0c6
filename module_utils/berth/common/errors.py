"""The one root of the errors berth raises on purpose.

Every error names the object and, where there is one, what to do; it carries
the exit status a CLI verb ends with and the HTTP status berthd answers with
(dockerd's: 400 bad parameter, 404 no such object, 409 conflict, 304 nothing
to do, 500 anything else). Each edge (the CLI, an Ansible module, the API
server) catches ``BerthError`` once and prints ``str(err)``.
"""


class BerthError(Exception):
    """An operation that cannot be done; the message is shown to the user as it is."""

    exit_code = 1
    status = 500


class InvalidParameter(BerthError):
    """Input that cannot be honoured: refused before anything changes."""

    status = 400


class NotFound(BerthError):
    """No such object (container, image, volume, network, exec, file)."""

    status = 404


class Conflict(BerthError):
    """The object's state or another object forbids the operation (unless forced)."""

    status = 409


class NotModified(BerthError):
    """Nothing to do: already started, already stopped (dockerd's 304)."""

    status = 304


class Unauthorized(BerthError):
    """Credentials missing or refused."""

    status = 401


class Forbidden(BerthError):
    """The request is not allowed from where it came (e.g. a browser origin)."""

    status = 403


class CommandNotFound(BerthError):
    """A container's (or exec's) command does not exist: Docker's exit status 127."""

    exit_code = 127
    status = 400


class CommandNotExecutable(BerthError):
    """A container's (or exec's) command cannot be executed: Docker's exit status 126."""

    exit_code = 126
    status = 400


class CommandError(BerthError):
    """An external program berth ran failed; the message ends with its last lines of output."""

    def __init__(self, argv, rc, stdout, stderr):
        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr
        tail = "\n".join((stderr or stdout or "").strip().splitlines()[-8:])
        BerthError.__init__(self, "%s exited %d: %s" % (" ".join(argv), rc, tail))
