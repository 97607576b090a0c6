"""Image references, normalised the way Docker does it.

``centos`` is ``docker.io/library/centos:latest``; ``host:5000/a/b:tag`` keeps
its registry; ``name@sha256:<hex>`` pins a manifest digest.  The grammar is
the one of distribution's reference package: lowercase path components joined
by ``/``, an optional registry host in front (recognised by a ``.`` or ``:`` or
being ``localhost``), an optional tag, an optional digest.
"""
import re

from .errors import InvalidReference

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_COMPONENT_RE = re.compile(r"^" + _COMPONENT + r"$")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(
    r"^(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_HEX64_RE = re.compile(r"^[a-f0-9]{64}$")


class Reference(object):
    """A parsed, normalised image reference."""

    __slots__ = ("domain", "path", "tag", "digest")

    def __init__(self, domain, path, tag=None, digest=None):
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest

    @property
    def name(self):
        """Fully qualified repository name: ``docker.io/library/centos``."""
        return self.domain + "/" + self.path

    @property
    def familiar_name(self):
        """The short name Docker prints: ``centos``, ``user/app``, ``host:5000/app``."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_REPO_PREFIX) and self.path.count("/") == 1:
                return self.path[len(OFFICIAL_REPO_PREFIX):]
            return self.path
        return self.name

    def with_tag(self, tag):
        return Reference(self.domain, self.path, tag=tag)

    def with_default_tag(self):
        """A reference with neither tag nor digest means ``:latest``."""
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, tag=DEFAULT_TAG)
        return self

    def __str__(self):
        text = self.name
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + self.digest
        return text

    def familiar(self):
        text = self.familiar_name
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + self.digest
        return text

    def __repr__(self):
        return "Reference(%r)" % str(self)

    def __eq__(self, other):
        return isinstance(other, Reference) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))


def parse(text):
    """Parse and normalise ``text``; raise ``InvalidReference`` with the reason."""
    if not isinstance(text, str) or not text:
        raise InvalidReference("invalid reference format: empty image name")
    if _HEX64_RE.match(text):
        raise InvalidReference(
            "invalid repository name (%s), cannot specify 64-byte hexadecimal strings" % text)
    remainder = text
    digest = None
    if "@" in remainder:
        remainder, digest = remainder.split("@", 1)
        if not _DIGEST_RE.match(digest):
            raise InvalidReference("invalid reference format: bad digest %r in %r" % (digest, text))
        if digest.startswith("sha256:") and not _SHA256_RE.match(digest):
            raise InvalidReference(
                "invalid reference format: %r is not a sha256 digest (64 lowercase hex)" % digest)
    tag = None
    slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > slash:
        remainder, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG_RE.match(tag):
            raise InvalidReference("invalid reference format: bad tag %r in %r" % (tag, text))
    domain, path = split_domain(remainder, text)
    for component in path.split("/"):
        if not _COMPONENT_RE.match(component):
            if component.lower() != component and _COMPONENT_RE.match(component.lower()):
                raise InvalidReference(
                    "invalid reference format: repository name %r must be lowercase" % text)
            raise InvalidReference("invalid reference format: %r" % text)
    if len(domain) + 1 + len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            "invalid reference format: repository name must not be more than %d characters"
            % NAME_TOTAL_LENGTH_MAX)
    return Reference(domain, path, tag, digest)


def split_domain(name, original=None):
    """Split ``name`` into (registry domain, repository path), applying Docker's defaults."""
    original = original or name
    first, sep, rest = name.partition("/")
    if sep and (("." in first or ":" in first) or first == "localhost" or first.lower() != first):
        if not _DOMAIN_RE.match(first):
            raise InvalidReference("invalid reference format: bad registry host %r in %r" % (first, original))
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if not path:
        raise InvalidReference("invalid reference format: %r" % original)
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    return domain, path


def parse_named_tagged(text):
    """Parse ``text`` and fill in ``:latest`` when neither tag nor digest is given."""
    return parse(text).with_default_tag()


def is_digest(text):
    return bool(_SHA256_RE.match(text))
