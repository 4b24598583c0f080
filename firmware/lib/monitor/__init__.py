"""The condition-monitoring app that runs on every node (docs/firmware.md)."""

VERSION = "0.1.0"
