"""Options that take a list of recordings: ``--normal a.npy b.npy`` as a shell glob expands it.

click options take one value per occurrence; these also take the words that follow, up to the
next option, so ``--normal data/Normal_*.npy`` works. Repeating the option works too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from click.parser import _OptionParser, _ParsingState


class RecordingsOption(click.Option):
    """A ``multiple`` path option that also swallows the non-option words after it."""

    def add_to_parser(self, parser: _OptionParser, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is None:
                continue
            option.process = _greedy(option.process)  # type: ignore[method-assign,assignment]


Process = Callable[[Any, _ParsingState], None]


def _greedy(take_one: Process) -> Process:
    def take_all(value: Any, state: _ParsingState) -> None:
        take_one(value, state)
        while state.rargs and not str(state.rargs[0]).startswith("-"):
            take_one(state.rargs.pop(0), state)

    return take_all


def recordings_option(*names: str, required: bool = True, help: str) -> Callable[[Any], Any]:
    return click.option(*names, cls=RecordingsOption, multiple=True, required=required, metavar="REC...",
                        type=click.Path(exists=True, dir_okay=False), help=help)


rate_option = click.option(
    "--rate", type=click.FloatRange(min=0, min_open=True), metavar="HZ",
    help="Sample rate of recordings that do not carry one (.npy without index.json, .csv without a time column).")
