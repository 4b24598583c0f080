"""fabnode: condition monitoring on ESP32 nodes, and the host tools that look after them."""

__version__ = "0.1.0"
