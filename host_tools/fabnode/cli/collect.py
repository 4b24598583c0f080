from __future__ import annotations

from pathlib import Path

import click

from fabnode.cli.monitor import ctrl_c_stops
from fabnode.cli.options import baud_option, json_option, ports_option
from fabnode.collect import MODES, NodeDataset, collect
from fabnode.output import emit_json, is_interactive


@click.command("collect")
@ports_option
@baud_option
@json_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the .npy arrays and their .json sidecars.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="S",
              help="Seconds to collect (default: until Ctrl-C).")
@click.option("--mode", type=click.Choice(MODES), default="raw", show_default=True,
              help="raw sensor frames (needs a fast line) or the node's feature vectors.")
@click.option("--label", help="What the machine was doing (healthy, fault-bpfo ...), kept with the data.")
def collect_cmd(ports: tuple[str, ...], baud: int | None, as_json: bool, out_dir: Path, duration: float | None,
                mode: str, label: str | None) -> None:
    """Record raw vibration or feature vectors from nodes into a dataset for training.

    \b
    Lost blocks are found from the frame index / window number and listed in the sidecar.
    Several -p ports collect at once, one file per node.
    """
    show = is_interactive() and not as_json

    def progress(dataset: NodeDataset) -> None:
        unit = "frames" if dataset.mode == "raw" else "windows"
        click.echo(f"\r{dataset.node}: {dataset.rows} {unit}, {dataset.dropped} dropped ", nl=False)

    with ctrl_c_stops() as stop:
        written = collect(ports, out_dir, mode=mode, duration=duration, label=label, baud=baud, stop=stop,
                          on_block=progress if show else None)
    if show:
        click.echo()
    if as_json:
        emit_json([{**dataset.summary(), "file": str(path)} for dataset, path in written])
        return
    for dataset, path in written:
        s = dataset.summary()
        unit = s["dropped_unit"]
        overruns = "" if s["sensor_overruns"] is None else f", {s['sensor_overruns']} sensor FIFO overruns"
        click.echo(f"{s['node']} ({s['port']}): {s[unit]} {unit} -> {path}; {s['dropped']} {unit} dropped, "
                   f"{s['gaps']} sequence gaps, {s['corrupt']} corrupted lines{overruns}")
