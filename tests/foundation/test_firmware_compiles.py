"""Every firmware file compiles for each board's architecture; the compiler rejects what MicroPython lacks."""

import pytest

from fabnode.boards import list_boards
from fabnode.mpycross import MpyCompileError, compile_file, compile_source
from fabnode.resources import firmware_dir

FIRMWARE_FILES = sorted(firmware_dir().rglob("*.py"))
BOARD_ARCHES = sorted({board.mpy_arch for board in list_boards()})


def test_boards_cover_both_architectures():
    assert BOARD_ARCHES == ["rv32imc", "xtensawin"]


@pytest.mark.parametrize("arch", BOARD_ARCHES)
def test_every_firmware_file_compiles(arch):
    assert FIRMWARE_FILES, "no firmware files found"
    failures = []
    for path in FIRMWARE_FILES:
        relative = path.relative_to(firmware_dir()).as_posix()
        try:
            assert compile_file(path, arch, relative).startswith(b"M\x06")
        except MpyCompileError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("source", "diagnostic"),
    [
        # CPython accepts these; MicroPython's compiler does not.
        ('x = 1\ny = f"{x!a}"\n', "SyntaxError"),
        ("match 1:\n    case 1:\n        pass\n", "SyntaxError"),
        ("import micropython\n@micropython.viper\ndef f(x: int) -> int:\n    return x + 1.5\n", "ViperTypeError"),
    ],
)
def test_known_bad_firmware_fails_to_compile(source, diagnostic):
    compile(source, "<cpython accepts it>", "exec")
    with pytest.raises(MpyCompileError, match=diagnostic):
        compile_source(source, "xtensawin", "bad.py")
