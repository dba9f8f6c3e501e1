"""CSV files people open in Excel: UTF-8 with a BOM, ``;`` or ``,``, no formulas.

* The BOM makes Excel read the file as UTF-8 (without it Cyrillic comes out garbled).
* ``;`` is the list separator of Excel in Russian, Ukrainian and Kazakh locales (a comma
  there is the decimal mark), ``,`` the one in English; the operator picks.
* A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read
  as a formula (CSV injection): such values get a leading ``'``, which Excel and LibreOffice
  show as text. So a phone is exported as ``'+77011234567`` — still readable, never run.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Iterator

from ..errors import Invalid

BOM = "\ufeff"
SEPARATORS = {"semicolon": ";", "comma": ","}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def separator(value: Any) -> str:
    """From the form's ``sep`` (semicolon, the default, or comma)."""
    if value in (None, ""):
        return ";"
    if value not in SEPARATORS:
        raise Invalid(field="sep")
    return SEPARATORS[value]


def neutralise(value: Any) -> str:
    """A cell's text, never a formula."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def chunk(rows: Iterable[list[Any]], *, delimiter: str, bom: bool = False) -> bytes:
    """Some rows of the file (the first chunk with ``bom``), neutralised, CRLF line ends."""
    buffer = io.StringIO()
    if bom:
        buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([neutralise(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


def lines(header: list[str], rows: Iterable[list[Any]], *, delimiter: str, chunk_rows: int = 500) -> Iterator[bytes]:
    """The whole file in chunks of bytes, BOM and header first: for a streamed response."""
    yield chunk([header], delimiter=delimiter, bom=True)
    batch: list[list[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == chunk_rows:
            yield chunk(batch, delimiter=delimiter)
            batch = []
    if batch:
        yield chunk(batch, delimiter=delimiter)


def utc_text(iso: str | None) -> str:
    """'2026-03-01T09:30:00.123Z' -> '2026-03-01 09:30:00' (UTC): a form Excel reads as a date."""
    return iso[:19].replace("T", " ") if iso else ""
