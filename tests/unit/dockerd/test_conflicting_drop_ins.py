"""Another drop-in owning dockerd's ExecStart: refused, and carried as drift with masked credentials."""
import pytest
from berth.hostprep.dockerd.errors import ConflictingDropIns, DockerdConfigError
from berth.hostprep.dockerd.manager import read_unit

SHOW = ("Id=docker.service\nFragmentPath=/lib/systemd/system/docker.service\n"
        "DropInPaths=/etc/systemd/system/docker.service.d/berth.conf /etc/systemd/system/docker.service.d/zz.conf\n")


def test_a_foreign_drop_in_is_refused_and_reported_as_drift(tmp_path, monkeypatch):
    files = {
        "/lib/systemd/system/docker.service": "[Service]\nExecStart=/usr/sbin/dockerd -H fd://\n",
        "/etc/systemd/system/docker.service.d/berth.conf": "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd\n",
        "/etc/systemd/system/docker.service.d/zz.conf": (
            "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H tcp://0.0.0.0:2375\n"
            "Environment=HTTP_PROXY=http://user:s3cret@proxy:3128\n"),
    }
    monkeypatch.setattr("berth.hostprep.dockerd.manager.read_text", lambda path, default=None: files.get(path))

    def run(argv):
        return 0, SHOW, ""

    with pytest.raises(ConflictingDropIns) as caught:
        read_unit(run, "/etc/systemd/system/docker.service.d/berth.conf")
    assert isinstance(caught.value, DockerdConfigError)
    assert "zz.conf also sets ExecStart" in str(caught.value)
    assert [d["before_header"] for d in caught.value.drift] == [
        "/etc/systemd/system/docker.service.d/zz.conf", "/etc/systemd/system/docker.service.d/zz.conf"]
    assert caught.value.drift[0]["after"] == ""
    assert "s3cret" not in caught.value.drift[0]["before"]
    assert "http://user:***@proxy:3128" in caught.value.drift[0]["before"]
