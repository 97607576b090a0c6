"""Lab fixtures for end-to-end tests: real hosts (systemd + sshd) reached over SSH.

``lab_factory(name, hosts, subnet)`` brings a lab up once per session and removes it at the
end, whatever the tests did. ``lab`` is the shared three-host lab for tests that only read.
Tests that change hosts take a lab of their own, so areas do not disturb each other.
"""
import pytest
from support.lab import Lab


@pytest.fixture(scope="session")
def lab_factory():
    made = []

    def make(name, hosts, subnet):
        lab = Lab(name, hosts, subnet)
        made.append(lab)
        lab.up()
        return lab

    yield make
    errors = []
    for lab in made:
        try:
            lab.down()
        except AssertionError as exc:
            errors.append(str(exc))
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="session")
def lab(lab_factory):
    """The shared lab for read-only tests: three hosts, e2e1..e2e3."""
    return lab_factory("e2e", 3, "172.28.251.0/24")
