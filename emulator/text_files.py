"""Reading a user's text file (YAML, CSV, GraphML, JSON) with one clear error for each way it can
be something else.

Every reader of a user file goes through :func:`read_text` (or :func:`open_text_lines`), which
refuses, with :class:`~coinfer.emulator.errors.InputError` naming the file's role and path:

* a path that does not exist, or a directory where a file was expected;
* a file larger than :data:`MAX_TEXT_BYTES` (a scenario or a table is never that large; a
  mistaken path to a disk image or a trace archive would be read into memory whole);
* binary content (a NUL byte), and text that is not UTF-8: UTF-16 or UTF-32 files (recognised
  by their byte-order mark) are named as such, anything else by the offset of the first byte
  that is not UTF-8. A UTF-8 byte-order mark is accepted and dropped.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from coinfer.emulator.errors import InputError

#: The largest text file read, bytes (64 MiB).
MAX_TEXT_BYTES = 64 * 2**20

_WIDE_MARKS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def check_file(path: str | Path, what: str) -> Path:
    """``path`` as a :class:`Path` if it names an existing regular file, else InputError.

    ``what`` names the file's role in the message (``scenario file``)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(
            f"{what}: {str(path)!r} is a directory, expected a file",
            source=str(path),
            value=str(path),
            expected="a file",
        )
    if not path.is_file():
        raise InputError(
            f"{what}: {str(path)!r} does not exist",
            source=str(path),
            value=str(path),
            expected="a file",
        )
    return path


def read_text(path: str | Path, what: str, *, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The text of the UTF-8 file at ``path`` (a leading byte-order mark dropped).

    Refuses, naming ``what`` and the path: a missing file, a directory, a file over
    ``max_bytes`` bytes, binary content and text in another encoding (see the module)."""
    path = check_file(path, what)
    where = f"{what} {str(path)!r}"
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"{where}: {size:,} bytes, expected a text file of at most {max_bytes:,} bytes",
                source=str(path),
                value=size,
                expected=f"at most {max_bytes} bytes",
            )
        data = path.read_bytes()
    except OSError as err:
        raise InputError(
            f"{where}: cannot be read ({err.strerror or err})", source=str(path)
        ) from err
    return decode_text(data, where, str(path))


def decode_text(data: bytes, where: str, source: str | None = None) -> str:
    """``data`` decoded as UTF-8 text, or InputError saying what it is instead (see the module).

    ``where`` starts the message (``scenario file 'a.yaml'``)."""
    for mark, encoding in _WIDE_MARKS:
        if data.startswith(mark):
            raise InputError(
                f"{where}: the file is {encoding} text, expected UTF-8 (save it as UTF-8)",
                source=source,
                expected="UTF-8 text",
            )
    if b"\x00" in data:
        offset = data.index(b"\x00")
        raise InputError(
            f"{where}: binary content (a NUL byte at offset {offset}), expected UTF-8 text",
            source=source,
            expected="UTF-8 text",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"{where}: byte 0x{data[err.start]:02x} at offset {err.start} (line {line}) is not "
            "UTF-8, expected UTF-8 text",
            source=source,
            expected="UTF-8 text",
        ) from err
    return text.removeprefix("\ufeff")


def read_text_lines(path: str | Path, what: str) -> list[str]:
    """The lines of the UTF-8 file at ``path``, line ends kept (checked as :func:`read_text`)."""
    return read_text(path, what).splitlines(keepends=True)
