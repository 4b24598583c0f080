"""One job per node, in parallel: a process per port, a result or an error per port.

esptool's logger is a process-wide singleton, so jobs that flash run in processes of their own.
One port failing does not stop the others; each outcome carries its result, or the error and hint.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Generic, Protocol, TypeVar

from fabnode.errors import FabnodeError


class Reportable(Protocol):
    def to_json(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Reportable)


@dataclass(frozen=True)
class PortOutcome(Generic[R]):
    port: str
    result: R | None = None
    error: str | None = None
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None

    def to_json(self) -> dict[str, Any]:
        return {"port": self.port, "ok": self.ok, "result": self.result.to_json() if self.result else None,
                "error": self.error, "hint": self.hint}


def _attempt(job: Callable[..., R], port: str, args: tuple[Any, ...]) -> PortOutcome[R]:
    try:
        return PortOutcome(port, job(port, *args))
    except FabnodeError as exc:
        return PortOutcome(port, error=str(exc), hint=exc.hint)


def in_processes(job: Callable[..., R], ports: list[str], *args: Any) -> list[PortOutcome[R]]:
    """``job(port, *args)`` for every port at once, each in a fresh process; outcomes in port order.

    ``job`` and ``args`` must pickle (a module-level function, plain data).
    """
    with ProcessPoolExecutor(max_workers=max(1, len(ports)), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_attempt, job, port, args) for port in ports]
        return [future.result() for future in futures]
