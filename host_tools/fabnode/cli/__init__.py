"""The ``fabnode`` command line: a thin layer over the library modules.

Each command lives in its own module under ``fabnode.cli`` and calls library functions that
tests and scripts can call directly. Only :func:`main` turns errors into exit codes.
"""

from __future__ import annotations

import sys

import click

from fabnode import __version__
from fabnode.cli import boards as boards_cmd
from fabnode.cli import collect as collect_cmd
from fabnode.cli import convert as convert_cmd
from fabnode.cli import demo as demo_cmd
from fabnode.cli import deploy as deploy_cmd
from fabnode.cli import diag as diag_cmd
from fabnode.cli import evaluate as evaluate_cmd
from fabnode.cli import flash as flash_cmd
from fabnode.cli import model as model_cmd
from fabnode.cli import monitor as monitor_cmd
from fabnode.cli import ports as ports_cmd
from fabnode.cli import push_model as push_model_cmd
from fabnode.cli import report as report_cmd
from fabnode.cli import score as score_cmd
from fabnode.cli import sim as sim_cmd
from fabnode.cli import train as train_cmd
from fabnode.errors import EXIT_FAILED, EXIT_USAGE, FabnodeError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="fabnode")
@click.option("--debug", is_flag=True, envvar="FABNODE_DEBUG", help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Condition monitoring on ESP32 nodes: flash, monitor, collect data, train and push models.

    \b
    Exit codes: 0 ok, 1 the operation failed, 2 usage error.
    Every command that talks to a node takes -p/--port (env FABNODE_PORT), a serial device,
    a socket:// or rfc2217:// URL, or sim://NAME for a virtual node.
    """
    ctx.obj = {"debug": debug}


cli.add_command(boards_cmd.boards)
cli.add_command(ports_cmd.ports)
cli.add_command(monitor_cmd.monitor)
cli.add_command(collect_cmd.collect_cmd)
cli.add_command(report_cmd.report_cmd)
cli.add_command(train_cmd.train)
cli.add_command(score_cmd.score)
cli.add_command(evaluate_cmd.evaluate_cmd)
cli.add_command(convert_cmd.convert)
cli.add_command(push_model_cmd.push_model_cmd)
cli.add_command(model_cmd.model_group)
cli.add_command(flash_cmd.flash)
cli.add_command(sim_cmd.sim)
cli.add_command(deploy_cmd.deploy)
cli.add_command(demo_cmd.demo)
cli.add_command(diag_cmd.diag)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map fabnode errors to a one-line message and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        # Without standalone mode click returns ctx.exit(code)'s code instead of exiting with it.
        code = cli.main(args=argv, prog_name="fabnode", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else EXIT_FAILED)
    except FabnodeError as exc:
        if debug:
            raise
        message = f"error: {exc}"
        if exc.hint:
            message += f"\nhint: {exc.hint}"
        click.echo(message, err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # a file or port the user named could not be used: say which, no traceback
        if debug:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        click.echo(f"error: {exc.strerror or exc}{where}", err=True)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
