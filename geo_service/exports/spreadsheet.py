"""Give GDAL-written XLSX sheets a frozen header row and an autofilter.

GDAL's XLSX driver writes large sheets fast but plain. Both conveniences are small XML elements
of each sheet (`sheetViews` before `cols`/`sheetData`, `autoFilter` after `sheetData`), added by
copying the archive member by member, streaming the sheets, so memory stays small.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from pathlib import Path

_FROZEN = (
    b'<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
    b'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
)
_SHEET = re.compile(r"^xl/worksheets/sheet\d+\.xml$")
_CELL = re.compile(rb'<c r="([A-Z]+)(\d+)"')
_CHUNK = 1 << 20


def freeze_header_and_filter(path: Path) -> None:
    staging = path.with_name(path.name + ".partial")
    with (
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target,
    ):
        for item in source.infolist():
            with (
                source.open(item) as reader,
                target.open(item.filename, "w", force_zip64=True) as writer,
            ):
                if _SHEET.fullmatch(item.filename):
                    _rewrite_sheet(reader, writer)
                else:
                    shutil.copyfileobj(reader, writer, _CHUNK)
    os.replace(staging, path)


def _rewrite_sheet(reader, writer) -> None:
    head_done = False
    tail = b""
    last_cell = (b"A", b"1")
    while chunk := reader.read(_CHUNK):
        data = tail + chunk
        if not head_done:
            marker = min(
                (i for i in (data.find(b"<cols>"), data.find(b"<sheetData")) if i >= 0), default=-1
            )
            if marker >= 0:
                data = data[:marker] + _FROZEN + data[marker:]
                head_done = True
        cells = _CELL.findall(data)
        if cells:
            last_cell = cells[-1]
        keep = 64  # enough to hold a split "</sheetData>" or cell reference
        writer.write(data[:-keep])
        tail = data[-keep:]
    if b"</sheetData>" in tail:
        columns, rows = last_cell
        tail = tail.replace(
            b"</sheetData>", b'</sheetData><autoFilter ref="A1:' + columns + rows + b'"/>', 1
        )
    writer.write(tail)
