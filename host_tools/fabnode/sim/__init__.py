"""The virtual node: a simulated ESP32 that real esptool and mpremote talk to (docs/virtual-node.md).

Importing this package registers pyserial's URL handler for ``sim://NAME`` (``protocol_sim``), so
``serial.serial_for_url("sim://NAME")`` opens a virtual node in this process.
"""

import serial

if "fabnode.sim" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("fabnode.sim")
