"""The exception host preparation raises; modules turn it into fail_json."""
from ..common.errors import BerthError


class HostprepError(BerthError):
    """A host preparation step cannot proceed; the message says what to do."""
