import json
import os
import stat

from berth.runtime.image.auth import HUB_AUTH_KEY, CredentialStore


def test_credentials_round_trip_in_a_private_docker_style_file(tmp_path):
    creds = CredentialStore(str(tmp_path / "cfg"))
    assert creds.get("reg.example:5000") is None
    creds.set("reg.example:5000", "alice", "pa:ss")
    creds.set("docker.io", "bob", "hub")
    assert stat.S_IMODE(os.stat(creds.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(tmp_path / "cfg")).st_mode) == 0o700
    with open(creds.path) as handle:
        data = json.load(handle)
    assert sorted(data["auths"]) == [HUB_AUTH_KEY, "reg.example:5000"]
    assert creds.get("reg.example:5000") == ("alice", "pa:ss")
    assert creds.get("index.docker.io") == ("bob", "hub")
    assert creds.remove("reg.example:5000") is True
    assert creds.remove("reg.example:5000") is False
    assert creds.get("reg.example:5000") is None


def test_plain_username_password_entries_are_read(tmp_path):
    (tmp_path / "config.json").write_text('{"auths": {"r:1": {"username": "u", "password": "p"}}}')
    assert CredentialStore(str(tmp_path)).get("r:1") == ("u", "p")
