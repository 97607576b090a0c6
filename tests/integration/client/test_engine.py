"""The Engine API client against the real dockerd (Debian's docker.io)."""
import io
import os
import subprocess
import tarfile
import uuid

import pytest
from berth.client.engine import EngineClient, EngineError, NotFound


@pytest.fixture
def engine():
    return EngineClient()


def test_ping_and_version_answer(engine):
    assert engine.ping() == b"OK"
    version = engine.version()
    served = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert version["Version"] == served


def test_missing_objects_raise_not_found_with_the_engines_message(engine):
    with pytest.raises(NotFound) as caught:
        engine.container_inspect("berth-no-such-container")
    assert caught.value.status == 404
    assert "No such container: berth-no-such-container" in str(caught.value)


def test_network_and_volume_lifecycle_with_labels(engine):
    name = "berth-test-" + uuid.uuid4().hex[:8]
    engine.network_create({"Name": name, "Labels": {"io.berth.test": name},
                           "IPAM": {"Config": [{"Subnet": "172.28.240.0/24"}]}})
    engine.volume_create({"Name": name, "Labels": {"io.berth.test": name}})
    try:
        assert engine.network_inspect(name)["IPAM"]["Config"][0]["Subnet"] == "172.28.240.0/24"
        assert [v["Name"] for v in engine.volumes("io.berth.test=" + name)] == [name]
    finally:
        engine.network_remove(name)
        engine.volume_remove(name)
    with pytest.raises(NotFound):
        engine.network_inspect(name)
    assert engine.volumes("io.berth.test=" + name) == []


def test_import_runs_and_refusal_reason_is_reported(engine, tmp_path):
    tar_path = str(tmp_path / "rootfs.tar")
    with tarfile.open(tar_path, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        data = b"berth\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    repo, tag = "berth-test/import", uuid.uuid4().hex[:8]
    image = engine.image_import(tar_path, repo, tag, changes=['CMD ["/hello"]'])
    try:
        assert image["Config"]["Cmd"] == ["/hello"]
        assert "%s:%s" % (repo, tag) in image["RepoTags"]
    finally:
        engine.image_remove("%s:%s" % (repo, tag))
    # The engine refuses before reading the body; the client still reports why.
    with pytest.raises(EngineError, match="stopsignal is not a valid change command"):
        engine.image_import(tar_path, repo, tag, changes=["STOPSIGNAL SIGTERM"])


def test_unreachable_socket_says_so(tmp_path):
    client = EngineClient(socket_path=str(tmp_path / "none.sock"))
    with pytest.raises(EngineError, match="cannot reach the engine at .*none.sock"):
        client.ping()
    assert not os.path.exists(str(tmp_path / "none.sock"))
