"""Address management for one bridge: a JSON file under the store, changed under a lock.

The file survives restarts of the runtime and of the host; an address is held
by a container id from start until the container stops.
"""
import ipaddress
import json
import os

from ...common.atomic import atomic_write, locked
from ...common.errors import BerthError


class AddressPoolExhausted(BerthError):
    """Every address of the bridge's subnet is held."""


class IPAM(object):
    def __init__(self, state_dir, subnet, gateway):
        self.path = os.path.join(state_dir, "ipam.json")
        self.lock = os.path.join(state_dir, "ipam.lock")
        self.network = ipaddress.ip_network(subnet, strict=False)
        self.gateway = gateway
        os.makedirs(state_dir, exist_ok=True)

    def _load(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        if data.get("subnet") != str(self.network):
            return {}
        return data.get("allocations", {})

    def _save(self, allocations):
        atomic_write(self.path, json.dumps({"subnet": str(self.network),
                                            "allocations": allocations}, sort_keys=True))

    def allocate(self, owner):
        """The lowest free address after the gateway; the same one again for the same owner."""
        with locked(self.lock):
            allocations = self._load()
            for address, holder in allocations.items():
                if holder == owner:
                    return address
            for host in self.network.hosts():
                address = str(host)
                if address == self.gateway or address in allocations:
                    continue
                allocations[address] = owner
                self._save(allocations)
                return address
        raise AddressPoolExhausted("no free address left in %s" % self.network)

    def release(self, owner):
        with locked(self.lock):
            allocations = self._load()
            kept = {a: h for a, h in allocations.items() if h != owner}
            if kept != allocations:
                self._save(kept)

    def allocations(self):
        return self._load()
