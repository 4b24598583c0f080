"""The command channel: ``!command args`` lines from the console, each answered by a ``reply``.

``CommandReader`` assembles lines from console bytes in a fixed buffer; ``dispatch`` runs one
line against the app and returns the reply payload (docs/protocol.md, "Commands").
"""

MAX_LINE = 120

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CommandError(Exception):
    """A command failed; the message is the reply's ``error``, ``data`` (if any) its ``data``."""

    def __init__(self, message: str, data: "Any" = None) -> None:
        super().__init__(message)
        self.data = data


class CommandReader:
    """Collects console bytes into lines; ``feed(data)`` returns the complete ``!`` lines."""

    def __init__(self) -> None:
        self._line = bytearray(MAX_LINE)
        self._length = 0
        self._overflow = False

    def feed(self, data: bytes) -> "list[str]":
        lines = []
        for byte in data:
            if byte in (10, 13):  # \n, \r
                if self._length and not self._overflow and self._line[0] == 33:  # "!"
                    lines.append(bytes(self._line[:self._length]).decode("utf-8", "ignore"))
                self._length = 0
                self._overflow = False
            elif self._length < MAX_LINE:
                self._line[self._length] = byte
                self._length += 1
            else:
                self._overflow = True  # an over-long line is dropped whole
        return lines


def _hello(app: "Any", args: "list[str]") -> "Any":
    return app.hello_payload()


def _status(app: "Any", args: "list[str]") -> "Any":
    return app.status_payload()


def _selftest(app: "Any", args: "list[str]") -> "Any":
    results = app.selftest()
    failed = [part for part in results if results[part].startswith("fail")]
    if failed:
        raise CommandError("self-test failed: " + ", ".join(f"{p} ({results[p]})" for p in failed), results)
    return results


def _stream(app: "Any", args: "list[str]") -> "Any":
    if len(args) != 1 or args[0] not in ("raw", "features", "off"):
        raise CommandError("usage: !stream raw|features|off")
    app.stream = args[0]
    app.stream_fresh = True
    return {"stream": app.stream}


def _model(app: "Any", args: "list[str]") -> "Any":
    from monitor import store

    action = args[0] if len(args) == 1 else ""
    if action == "info":
        return store.info(app.models_root)
    if action == "activate":
        return app.activate_model()
    if action == "reload":
        return app.reload_model()
    raise CommandError("usage: !model info|activate|reload")


def _reboot(app: "Any", args: "list[str]") -> "Any":
    app.reboot_requested = True
    return {}


def _help(app: "Any", args: "list[str]") -> "Any":
    return {"commands": sorted(HANDLERS)}


HANDLERS = {
    "hello": _hello,
    "status": _status,
    "selftest": _selftest,
    "stream": _stream,
    "model": _model,
    "reboot": _reboot,
    "help": _help,
}


def dispatch(app: "Any", line: str) -> "dict[str, Any]":
    """Run one ``!command`` line; return the ``reply`` payload (never raises for a bad command)."""
    parts = line[1:].split()
    name = parts[0] if parts else ""
    handler = HANDLERS.get(name)
    if handler is None:
        return {"cmd": name, "ok": False, "error": f"unknown command {name!r}; !help lists them"}
    try:
        return {"cmd": name, "ok": True, "data": handler(app, parts[1:])}
    except CommandError as exc:
        reply = {"cmd": name, "ok": False, "error": str(exc)}
        if exc.data is not None:
            reply["data"] = exc.data
        return reply
