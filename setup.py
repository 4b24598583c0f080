"""Bundle the node-side files (firmware, boards, models) into the wheel.

An installed fabnode must be able to flash and deploy without a source checkout, so
``build_py`` copies them under ``fabnode/_bundled``; ``fabnode.resources`` finds them there.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
BUNDLED = ("firmware", "boards", "models")


class BuildWithNodeFiles(build_py):
    def run(self) -> None:
        super().run()
        for name in BUNDLED:
            target = Path(self.build_lib) / "fabnode" / "_bundled" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithNodeFiles})
