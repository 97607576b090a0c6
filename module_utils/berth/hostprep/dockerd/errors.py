"""The exception the daemon configuration raises; modules turn it into fail_json."""
from ..errors import HostprepError


class DockerdConfigError(HostprepError):
    """A setting is refused before anything is written; the message names the setting and the fix."""

    def __init__(self, setting, message):
        HostprepError.__init__(self, "%s: %s" % (setting, message))
        self.setting = setting


class ConflictingDropIns(DockerdConfigError):
    """Other drop-ins of docker.service set what berth's drop-in owns.

    A real run refuses (it never merges or deletes another file); ``drift`` carries each
    conflicting file as a before/after diff, so a drift check reports it as drift.
    """

    def __init__(self, message, conflicts):
        DockerdConfigError.__init__(self, "docker.service", message)
        self.drift = [
            {"before": content, "after": "", "before_header": path,
             "after_header": "%s (absent: berth's drop-in is the only one that sets %s)" % (path, what)}
            for path, what, content in conflicts
        ]


class DockerdApplyError(HostprepError):
    """dockerd did not come back healthy after a restart or reload."""

    def __init__(self, message, journal="", rolled_back=False):
        HostprepError.__init__(self, message)
        self.journal = journal
        self.rolled_back = rolled_back
