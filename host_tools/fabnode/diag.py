"""``fabnode diag``: what a node says about itself, without disturbing it when it can answer.

First the app is asked over its command channel (``!hello``, ``!status``, ``!selftest``) while it
keeps sampling. Only when it does not answer (not installed, crashed, safe mode) does diag take
the raw REPL to read what MicroPython itself can tell: versions, reset cause, memory, files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fabnode.errors import FabnodeError
from fabnode.monitor import Monitor
from fabnode.repl import NodeRepl

COMMANDS = ("hello", "status", "selftest")

# Runs in the raw REPL of a node whose app does not answer.
_REPL_FACTS = """\
import sys, os, gc, json, machine
_causes = {getattr(machine, n, -1): n for n in
           ('PWRON_RESET', 'HARD_RESET', 'WDT_RESET', 'DEEPSLEEP_RESET', 'SOFT_RESET')}
def _read(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
def _files(d, out):
    for e in os.ilistdir(d):
        p = (d if d != '/' else '') + '/' + e[0]
        if e[1] & 0x4000:
            _files(p, out)
        else:
            out.append(p)
    return out
gc.collect()
_app = _read('/config/app.json') or {}
_s = os.statvfs('/')
print(repr({
    'micropython': '.'.join(str(v) for v in sys.implementation.version[:3]),
    'platform': sys.platform,
    'machine': sys.implementation._machine,
    'reset_cause': _causes.get(machine.reset_cause(), str(machine.reset_cause())),
    'mem_free': gc.mem_free(),
    'fs_free': _s[0] * _s[3],
    'app_version': _app.get('fw'),
    'board': (_read('/config/board.json') or {}).get('id'),
    'node': _read('/config/node.json'),
    'crash_boots': _read('/config/crash_boots'),
    'files': _files('/', []),
}))
"""


@dataclass
class Diagnosis:
    port: str
    app_running: bool
    hello: dict[str, Any] | None = None
    status: dict[str, Any] | None = None
    selftest: dict[str, Any] | None = None
    repl: dict[str, Any] | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def diagnose(port: str, baud: int | None = None, timeout: float = 5.0) -> Diagnosis:
    """Ask the app; if it does not answer within ``timeout``, read the node from its raw REPL."""
    answers: dict[str, dict[str, Any]] = {}
    try:
        with Monitor([port], baud, reconnect=False) as monitor:
            for command in COMMANDS:
                reply = monitor.request(f"!{command}", port, timeout)
                answers[command] = {"ok": reply.payload.get("ok", False), **(reply.payload.get("data") or {})}
                if "error" in reply.payload:
                    answers[command]["error"] = reply.payload["error"]
    except FabnodeError as exc:
        if answers:  # the app answered before: a real failure, not an absent app
            raise
        with NodeRepl(port, baud or 115200) as repl:
            facts = repl.exec_literal(_REPL_FACTS)
        return Diagnosis(port, False, repl=facts, note=f"the fabnode app is not running ({exc})")
    return Diagnosis(port, True, hello=answers["hello"], status=answers["status"], selftest=answers["selftest"])
