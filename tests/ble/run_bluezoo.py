"""Run BlueZoo (test-only, GPL: never imported by mpos itself) with two
behaviours of a real BlueZ it lacks, so the rig tests our code and not the
emulator's gaps:

1. On disconnect, BlueZ drops the connection's GATT objects. BlueZoo keeps
   them exported and subscribed, so connecting to the same peripheral again
   fails with EEXIST (or delivers notifications twice); here they are
   removed on disconnect.
2. BlueZ reports every advertisement of a known device (RSSI changes), so a
   scan finds a reader that was seen before. BlueZoo announces only new
   devices; here a known device's RSSI is re-announced on each scan round.

Usage: python run_bluezoo.py [bluezoo options]
"""

import sys

from bluezoo import bluezoo as bluezoo_main
from bluezoo.adapter import Adapter
from bluezoo.device import Device

_disconnect = Device.disconnect
_add_device = Adapter.add_device


async def disconnect(self, uuid=None):
    await _disconnect(self, uuid)
    for link in list(self.services.values()):
        subscription = getattr(link, "client_props_changed_subscription", None)
        if subscription is not None:
            subscription.unsubscribe()  # or the next connection gets every notification twice
        try:
            self.peer_adapter.mock.remove_object(link)
        except KeyError:
            pass
    self.services.clear()


async def add_device(self, device):
    path = "/".join((self.get_object_path(), f"dev_{device.address.replace(':', '_')}"))
    known = self.devices.get(path)
    await _add_device(self, device)
    if known is not None:
        known.properties_changed.emit(("org.bluez.Device1", {"RSSI": ("n", known.rssi)}, []))


Device.disconnect = disconnect
Adapter.add_device = add_device

if __name__ == "__main__":
    sys.argv[0] = "bluezoo"
    bluezoo_main.main()
