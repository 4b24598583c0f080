"""``fabnode model info PKG``: what a model package holds, after validating it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from fabnode.cli.options import json_option
from fabnode.models.package import ModelPackage, load_package
from fabnode.output import emit_json


@click.group("model")
def model_group() -> None:
    """Inspect model packages."""


@model_group.command("info")
@click.argument("package_path", metavar="PKG", type=click.Path(exists=True, path_type=Path))
@json_option
def info(package_path: Path, as_json: bool) -> None:
    """Validate a model package (directory or .zip) and show its manifest."""
    package = load_package(package_path)
    if as_json:
        emit_json({"path": str(package_path), "valid": True, "manifest": package.manifest})
        return
    click.echo("\n".join(describe(package)))


def describe(package: ModelPackage) -> list[str]:
    """The manifest for people, one fact per line."""
    m = package.manifest
    spec = m["features"]
    names = spec.get("names") or []
    lines = [
        f"model {m['id']} (schema {m['schema']}), created {m['created']}, for {', '.join(m['boards'])}",
        f"  features (version {spec.get('version', 1)}): {len(m['normalization']['mean'])} per window of "
        f"{spec['window']} samples every "
        f"{spec['hop']} at {spec['rate_hz']:g} Hz ({spec['axes']} axes)" + (f": {', '.join(names)}" if names else ""),
        f"  input {_tensor(m['input'])}, output {_tensor(m['output'])}",
        f"  score {m['score']['type']}, threshold {m['threshold']:.6g}, "
        f"alarm {m['alarm']['k']} of {m['alarm']['n']} windows",
        f"  ops {', '.join(m['ops'])}; arena {m['arena_bytes']} B, model {m['flash_bytes']} B, "
        f"sha256 {m['model_sha256']}",
    ]
    origin = m["training"]
    for source in origin["sources"]:
        lines.append(f"  trained on {source['name']} ({source['windows']} windows, sha256 {source['sha256'][:12]}...)")
    if "windows" in origin:
        lines.append(f"  windows: {_pairs(origin['windows'])}")
    lines.append(f"  float vs int8: {_pairs(m['agreement'])}")
    lines.append("  self-test vector: ok (tfl reproduces the recorded output)")
    return lines


def _tensor(tensor: dict[str, Any]) -> str:
    return f"{tensor['dtype']} {tensor['shape']} (scale {tensor['scale']:.6g}, zero point {tensor['zero_point']})"


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                     for key, value in values.items())
