"""`pip install .` must give a fabnode that works without the source tree: check what the wheel carries."""

import subprocess
import sys
import zipfile

import pytest

from fabnode.resources import firmware_dir

NEEDED = [
    "fabnode/_bundled/firmware/boot.py",
    "fabnode/_bundled/firmware/main.py",
    "fabnode/_bundled/firmware/lib/tfl/__init__.py",
    "fabnode/_bundled/boards/esp32-devkitc.json",
    "fabnode/_bundled/models/bearing-hit-mfs-v1/model.tflite",
    "fabnode/_bundled/models/bearing-hit-mfs-v1/manifest.json",
    "fabnode/mpwasm_run.mjs",
    "fabnode/sim/bridge.mjs",
    "fabnode/sim/mp/vnode.py",
    "fabnode/sim/mp/nodetime.py",
    "fabnode/sim/hw/machine.py",
    "fabnode/sim/hw/simdev/adxl345.py",
    "fabnode/sim/data/healthy_900rpm.wav",
]


@pytest.mark.slow
def test_wheel_carries_firmware_boards_models_and_the_virtual_node(tmp_path):
    root = firmware_dir().parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(root)], check=True, capture_output=True, cwd=tmp_path)
    wheel = next(tmp_path.glob("fabnode-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in NEEDED if name not in names] == []
    shipped_firmware = {n for n in names if n.startswith("fabnode/_bundled/firmware/") and n.endswith(".py")}
    assert len(shipped_firmware) == len(list(firmware_dir().rglob("*.py")))
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]
