import pytest
from berth.runtime.image import reference
from berth.runtime.image.errors import InvalidReference


@pytest.mark.parametrize("text, expected", [
    ("centos", "docker.io/library/centos"),
    ("centos:7", "docker.io/library/centos:7"),
    ("library/centos", "docker.io/library/centos"),
    ("index.docker.io/centos", "docker.io/library/centos"),
    ("user/app:1.0", "docker.io/user/app:1.0"),
    ("host:5000/a/b:tag", "host:5000/a/b:tag"),
    ("localhost/app", "localhost/app"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app"),
    ("[::1]:5000/app:v2", "[::1]:5000/app:v2"),
    ("registry.example.com/team/app", "registry.example.com/team/app"),
    ("alpine@sha256:" + "a" * 64, "docker.io/library/alpine@sha256:" + "a" * 64),
    ("alpine:3@sha256:" + "b" * 64, "docker.io/library/alpine:3@sha256:" + "b" * 64),
    ("a__b/c-d.e", "docker.io/a__b/c-d.e"),
])
def test_normalises_like_docker(text, expected):
    assert str(reference.parse(text)) == expected


def test_default_tag_is_latest():
    assert str(reference.parse_named_tagged("centos")) == "docker.io/library/centos:latest"
    pinned = "centos@sha256:" + "c" * 64
    assert str(reference.parse_named_tagged(pinned)) == "docker.io/library/centos@sha256:" + "c" * 64


@pytest.mark.parametrize("text, familiar", [
    ("centos:7", "centos:7"),
    ("docker.io/library/centos:7", "centos:7"),
    ("user/app", "user/app"),
    ("host:5000/a/b:t", "host:5000/a/b:t"),
])
def test_familiar_form(text, familiar):
    assert reference.parse(text).familiar() == familiar


def test_parts():
    ref = reference.parse("host:5000/a/b:tag")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("host:5000", "a/b", "tag", None)


@pytest.mark.parametrize("text, message", [
    ("", "empty image name"),
    ("Centos", "must be lowercase"),
    ("user/App", "must be lowercase"),
    ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
    ("centos:bad/tag", "invalid reference format"),
    ("centos:", "invalid reference format"),
    ("centos@sha256:abc", "is not a sha256 digest"),
    ("centos@nodigest", "bad digest"),
    ("a//b", "invalid reference format"),
    ("-a", "invalid reference format"),
    ("a/" + "b" * 260, "must not be more than 255 characters"),
])
def test_invalid_names_say_why(text, message):
    with pytest.raises(InvalidReference) as info:
        reference.parse(text)
    assert message in str(info.value)
