"""``fabnode push-model``: install a validated package on nodes, with no way to leave one without a model.

Per node, over the raw REPL (``fabnode.repl.NodeRepl``):

1. read what the node has: board, firmware version, feature and score support, free space, models;
2. check the package against it (board, feature spec version, score type, room for a staged copy);
3. write ``model.tflite`` and ``manifest.json`` to ``/models/staging`` (compressed, each file
   sha256-checked on the node and renamed into place, so a cut leaves no half-written file);
4. ``monitor.store.activate_staged()``: the node checks the staged manifest, hash and self-test
   and swaps by renames (the old model becomes ``previous``); a refusal leaves ``active`` as it was;
5. soft-reset the node and wait for the app's ``hello``: it must report the new model's sha256
   (the crash-boot counter is cleared first: the host's own resets are not crashes).
   If the app does not come back, the previous model is put back and the node restarted again.

A cut at any point (USB pulled, power lost) leaves the previous model active after the next boot
(``store.recover()`` finishes or undoes an interrupted swap); running the push again finishes it.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from fabnode.errors import FabnodeError, UsageError
from fabnode.models.package import MANIFEST_FILE, MODEL_FILE, ModelPackage

STAGING = "/models/staging"
# Room beyond the two files: the compressed .part copy written before inflating, and filesystem slack.
FREE_SPACE_FACTOR = 2.5

_FACTS_CODE = """\
import os, json
import monitor
from monitor import features, anomaly, store
with open('/config/board.json') as _f:
    _b = json.load(_f)
_v = [s for s in _b['sensors'] if s['role'] == 'vibration']
_s = os.statvfs('/')
print(repr({'fw': monitor.VERSION, 'board': _b['id'], 'odr_hz': _v[0].get('odr_hz') if _v else None,
            'features_version': features.FEATURES_VERSION, 'score_types': list(anomaly.SCORE_TYPES),
            'free_bytes': _s[0] * _s[3], 'models': store.info()}))
"""
# The app did not come back with the new model: put the previous one back. The rejected model goes
# to staging; a cut between the two renames leaves no active model but a previous one, which
# store.recover() restores at boot.
_ROLLBACK_CODE = """\
import os
from monitor import store
os.rename(store.ROOT + '/active', store.ROOT + '/staging')
os.rename(store.ROOT + '/previous', store.ROOT + '/active')
"""


class PushError(FabnodeError):
    """The package was not installed on a node; the message says why and what the node runs now."""


@dataclass(frozen=True)
class PushResult:
    port: str
    status: str  # "activated", "already active", "dry run", "failed"
    model: str
    previous: str | None
    detail: str
    wire_bytes: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_json(self) -> dict[str, Any]:
        return {**vars(self), "ok": self.ok}


def node_facts(repl: Any) -> dict[str, Any]:
    """What the push depends on, read from the node in one round trip."""
    from fabnode.repl import NodeError

    try:
        text = repl.exec(_FACTS_CODE).strip()
    except NodeError as exc:
        if "no module named 'monitor'" in str(exc):  # bare MicroPython: flashed, app never deployed
            raise PushError(f"{repl.port}: the fabnode app is not installed (install it with "
                            "`fabnode deploy --board BOARD -p PORT`)") from None
        raise
    try:
        facts: dict[str, Any] = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise PushError(f"{repl.port}: unexpected answer from the node: {text[:80]!r}") from None
    return facts


def check_node(package: ModelPackage, facts: dict[str, Any], port: str) -> None:
    """Refuse a node the package does not fit, saying why."""
    manifest = package.manifest
    if facts["board"] not in manifest["boards"]:
        raise PushError(f"{port}: the node's board is {facts['board']}, model {package.id} is for "
                        f"{', '.join(manifest['boards'])}")
    spec_version = manifest["features"].get("version", facts["features_version"])
    if spec_version != facts["features_version"]:
        hint = ("update the firmware with fabnode deploy" if spec_version > facts["features_version"]
                else "rebuild the package with this fabnode (fabnode train or fabnode convert)")
        raise PushError(f"{port}: firmware {facts['fw']} computes features version {facts['features_version']}, "
                        f"the model needs version {spec_version}", hint=hint)
    if manifest["score"]["type"] not in facts["score_types"]:
        raise PushError(f"{port}: firmware {facts['fw']} cannot compute {manifest['score']['type']} scores",
                        hint="update the firmware with fabnode deploy")
    needed = int(FREE_SPACE_FACTOR * (len(package.model) + len(_manifest_bytes(package))))
    if facts["free_bytes"] < needed:
        raise PushError(f"{port}: the node has {facts['free_bytes']} bytes free, staging the model needs {needed}")


def _manifest_bytes(package: ModelPackage) -> bytes:
    return (json.dumps(package.manifest, indent=1) + "\n").encode()


def _active(facts: dict[str, Any]) -> dict[str, Any] | None:
    active: dict[str, Any] | None = facts["models"]["active"]
    return active


def push_one(package: ModelPackage, port: str, baud: int | None = None, dry_run: bool = False) -> PushResult:
    """Install ``package`` on the node at ``port``; PushError (or another FabnodeError) says why not."""
    from fabnode.repl import NodeError, NodeRepl

    with NodeRepl(port, baud or 115200) as repl:
        facts = node_facts(repl)
        check_node(package, facts, port)
        active = _active(facts)
        previous = active["id"] if active else None
        if active and active["sha256"] == package.sha256:
            return PushResult(port, "already active", package.id, previous, "the node runs this model already")
        if dry_run:
            return PushResult(port, "dry run", package.id, previous,
                              f"would replace {previous or 'no model'} on {facts['board']} (firmware {facts['fw']}, "
                              f"{facts['free_bytes']} bytes free)")
        repl.exec("from monitor import store\nstore.stage_dir()")
        wire = repl.write_file(f"{STAGING}/{MODEL_FILE}", package.model)
        wire += repl.write_file(f"{STAGING}/{MANIFEST_FILE}", _manifest_bytes(package))
        answer = repl.eval(f"store.activate_staged(rate_hz={facts['odr_hz']!r})", timeout=60)
        if not answer.get("ok"):
            raise PushError(f"{port}: the node refused the model: {answer.get('error')}; it still runs "
                            f"{previous or 'no model'}")
        # This session's port open and the restart below are host actions, not crash boots.
        repl.exec("from monitor import bootguard\nbootguard.clear()")
        failure: NodeError | None = None
        try:
            hello = repl.restart_app()
        except NodeError as exc:
            failure = exc
    if failure is not None:  # the session is closed: the rollback opens its own
        _roll_back(port, baud)
        raise PushError(f"{port}: the app did not start with model {package.id} ({failure}); "
                        f"rolled back to {previous or 'no model'}")
    if hello.payload.get("safe_mode"):
        raise PushError(f"{port}: the node restarted in safe mode ({hello.payload.get('crash_boots')} crash boots): "
                        "the app did not start", hint="see `fabnode monitor`; clear safe mode and run again")
    reported = hello.payload.get("model_sha256")
    if reported != package.sha256:
        raise PushError(f"{port}: after the restart the node runs {hello.payload.get('model')} "
                        f"(sha256 {str(reported)[:12]}...), not {package.id}: it rejected the new model at boot")
    return PushResult(port, "activated", package.id, previous, f"hello confirms sha256 {package.sha256[:12]}...",
                      wire)


def _roll_back(port: str, baud: int | None) -> None:
    """Put the previous model back after the app failed to start with the new one."""
    from fabnode.repl import NodeRepl

    with NodeRepl(port, baud or 115200) as repl:
        models = node_facts(repl)["models"]
        if models["active"] is not None and models["previous"] is not None:
            repl.exec(_ROLLBACK_CODE)
        repl.exec("from monitor import bootguard\nbootguard.clear()")
        repl.restart_app()


def push_model(package: ModelPackage, ports: Sequence[str], baud: int | None = None,
               dry_run: bool = False) -> list[PushResult]:
    """Push to every port at once; one result per port, in the order given (failures included)."""
    if not ports:
        raise UsageError("no port given", hint="pass -p PORT (repeat it for several nodes)")

    def attempt(port: str) -> PushResult:
        started = time.monotonic()
        try:
            result = push_one(package, port, baud, dry_run)
        except (FabnodeError, OSError) as exc:  # OSError: the port went away (USB pulled, node lost power)
            hint = getattr(exc, "hint", None)
            result = PushResult(port, "failed", package.id, None, f"{exc}; {hint}" if hint else str(exc))
        return replace(result, seconds=round(time.monotonic() - started, 2))

    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        return list(pool.map(attempt, ports))
