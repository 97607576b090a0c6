"""The exception the daemon configuration raises; modules turn it into fail_json."""
from ..errors import HostprepError


class DockerdConfigError(HostprepError):
    """A setting is refused before anything is written; the message names the setting and the fix."""

    def __init__(self, setting, message):
        HostprepError.__init__(self, "%s: %s" % (setting, message))
        self.setting = setting


class DockerdApplyError(HostprepError):
    """dockerd did not come back healthy after a restart or reload."""

    def __init__(self, message, journal="", rolled_back=False):
        HostprepError.__init__(self, message)
        self.journal = journal
        self.rolled_back = rolled_back
