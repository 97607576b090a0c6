import pytest
from berth.runtime.image.errors import RegistryError
from berth.runtime.image.hostarch import parse_platform
from berth.runtime.image.pull import select_manifest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def entry(digest, arch, variant=None, os_name="linux", media=DOCKER_MANIFEST):
    platform = {"os": os_name, "architecture": arch}
    if variant:
        platform["variant"] = variant
    return {"mediaType": media, "digest": digest, "size": 1, "platform": platform}


INDEX = {"manifests": [
    entry("sha256:attest", "unknown", os_name="unknown"),
    entry("sha256:amd64", "amd64"),
    entry("sha256:armv6", "arm", "v6"),
    entry("sha256:armv7", "arm", "v7"),
    entry("sha256:arm64", "arm64", "v8"),
    entry("sha256:win", "amd64", os_name="windows"),
    entry("sha256:helm", "amd64", media="application/vnd.cncf.helm.config.v1+json"),
]}


@pytest.mark.parametrize("platform, digest", [
    (("linux", "amd64", ""), "sha256:amd64"),
    (("linux", "arm", "v7"), "sha256:armv7"),
    (("linux", "arm", "v6"), "sha256:armv6"),
    (("linux", "arm64", "v8"), "sha256:arm64"),
    (("windows", "amd64", ""), "sha256:win"),
])
def test_index_entry_for_platform(platform, digest):
    assert select_manifest(INDEX, platform)["digest"] == digest


def test_no_match_names_the_platform():
    with pytest.raises(RegistryError) as info:
        select_manifest(INDEX, ("linux", "s390x", ""))
    assert str(info.value) == "no matching manifest for linux/s390x in the manifest list entries"


def test_parse_platform():
    assert parse_platform("linux/arm/v7") == ("linux", "arm", "v7")
    assert parse_platform("linux/amd64") == ("linux", "amd64", "")
    assert parse_platform("arm64") == ("linux", "arm64", "")
