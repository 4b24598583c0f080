"""The condition-monitoring app that runs on every node (docs/firmware.md)."""

# 0.2: integer features (version 2), Q12 features stream
VERSION = "0.2.0"
