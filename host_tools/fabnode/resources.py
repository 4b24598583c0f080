"""Where the node-side files live: the source checkout, or the copy bundled into the wheel."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_SOURCE_ROOT = _PACKAGE.parents[1]
_BUNDLED = _PACKAGE / "_bundled"


def _locate(name: str) -> Path:
    for base in (_SOURCE_ROOT, _BUNDLED):
        candidate = base / name
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"fabnode is installed without its {name}/ directory "
                            f"(looked in {_SOURCE_ROOT} and {_BUNDLED})")


def firmware_dir() -> Path:
    """The firmware tree as it lives on the node (``lib/`` there is ``/lib``)."""
    return _locate("firmware")


def firmware_lib_dir() -> Path:
    return firmware_dir() / "lib"


def boards_dir() -> Path:
    return _locate("boards")


def models_dir() -> Path:
    return _locate("models")


def use_firmware_lib() -> None:
    """Make the firmware's modules (``tfl``, ``monitor``, ``drivers``) importable under CPython.

    Host tools run the node's own code for features and inference, so what was evaluated on the
    host is what runs on the node.
    """
    import sys

    lib = str(firmware_lib_dir())
    if lib not in sys.path:
        sys.path.insert(0, lib)


def cache_dir() -> Path:
    """fabnode's cache (compiled .mpy files): under ``$FABNODE_HOME`` when set, else the user's cache."""
    import os

    import platformdirs

    home = os.environ.get("FABNODE_HOME")
    return Path(home) / "cache" if home else Path(platformdirs.user_cache_dir("fabnode"))
