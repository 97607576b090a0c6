"""The one exception type host preparation raises; modules turn it into fail_json."""


class HostprepError(Exception):
    """A host preparation step cannot proceed; the message says what to do."""
