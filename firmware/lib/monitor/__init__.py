"""The condition-monitoring app that runs on every node (docs/firmware.md)."""

VERSION = "0.2.0"  # 0.2: integer features (version 2), Q12 features stream
