"""Starts the monitoring app, or in safe mode says so and leaves the REPL to the host."""

from monitor import bootguard

if bootguard.safe_mode():
    bootguard.announce_safe_mode()
else:
    from monitor import app

    app.main()
