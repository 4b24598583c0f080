"""Scratch folders and the reference model package for checks, on CPython and MicroPython alike."""

import os

_count = [0]


def _exists(path):
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def folder(name):
    """A new empty folder (a temp dir on CPython, under /tmp on MicroPython)."""
    _count[0] += 1
    try:
        import tempfile
    except ImportError:
        path = f"/tmp/{name}{_count[0]}"
        os.mkdir(path)
        return path
    return tempfile.mkdtemp(prefix=name)


def reference_package():
    """Folder of the shipped reference model package (placed at /fwdata/ref under MicroPython)."""
    if _exists("/fwdata/ref/manifest.json"):
        return "/fwdata/ref"
    here = __file__.rsplit("/", 1)[0]
    return here + "/../../../models/bearing-hit-mfs-v1"


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def write(path, data):
    with open(path, "wb" if isinstance(data, (bytes, bytearray)) else "w") as f:
        f.write(data)


def put_package(folder_path, model=None, manifest=None):
    """Write a package into ``folder_path`` (made if missing); defaults to the reference files."""
    if not _exists(folder_path):
        os.mkdir(folder_path)
    ref = reference_package()
    write(folder_path + "/model.tflite", read(ref + "/model.tflite") if model is None else model)
    write(folder_path + "/manifest.json", read(ref + "/manifest.json", "r") if manifest is None else manifest)
