"""Type-check the firmware against the MicroPython ESP32 stubs, not CPython's standard library."""

import subprocess
import sys
from pathlib import Path

import pytest

from fabnode.resources import firmware_dir

STUBS = Path(__file__).with_name("stubs")


def _installed_files(distribution: str) -> list[Path]:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import distribution as dist

    try:
        found = dist(distribution)
    except PackageNotFoundError:
        pytest.skip(f"{distribution} is not installed (dev extra)")
    return [Path(str(found.locate_file(f))) for f in (found.files or [])]


def test_firmware_type_checks_against_micropython_stubs(tmp_path):
    # The stubs are top-level .pyi files and packages in site-packages; mypy reads them from a folder of links.
    stub_dir = tmp_path / "micropython-stubs"
    stub_dir.mkdir()
    for distribution in ("micropython-esp32-stubs", "micropython-stdlib-stubs"):
        for path in _installed_files(distribution):
            if path.suffix != ".pyi" or "stdlib" in path.parts:
                continue
            top = path
            while top.parent.name != "site-packages":
                top = top.parent
            link = stub_dir / top.name
            if not link.exists():
                link.symlink_to(top)
    typeshed = next(p for p in _installed_files("micropython-stdlib-stubs") if p.name == "VERSIONS").parents[1]
    lib = firmware_dir() / "lib"
    root = firmware_dir().parent
    sources = sorted(str(p.relative_to(root)) for p in firmware_dir().rglob("*.py"))
    if not sources:
        pytest.skip("no firmware yet")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-site-packages", "--custom-typeshed-dir", str(typeshed),
         "--python-version", "3.11", "--check-untyped-defs", "--no-error-summary", "--explicit-package-bases",
         "--cache-dir", str(tmp_path / "cache"), *sources],
        capture_output=True, text=True, check=False, cwd=root,
        env={"MYPYPATH": f"{lib}:{stub_dir}:{STUBS}", "PATH": "/usr/bin:/bin"},
    )
    firmware_errors = [line for line in result.stdout.splitlines()
                       if line.startswith("firmware/") and ": error:" in line]
    assert not firmware_errors, "\n".join(firmware_errors)
