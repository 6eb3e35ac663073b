"""The centres of a layer's R-tree boxes in memory, for grid counts of unfiltered views.

A map at province scale asks for counts per cell on every pan; walking a million R-tree entries
in SQL takes about a second each time. The centres of one version's features are read once (24
bytes per feature, with its fid; a version never changes), sorted by x, and a view's grid is
then a binary search and a bincount: a few milliseconds. The next version made by a change set
takes them over, less the rows it closed and with those it added. Filtered grids still go to
SQL, which alone knows the filter.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np

from ..query import BBox
from .base import GridCell
from .sqlite_sql import quote_identifier

PART = 100_000
"""R-tree rows turned into numbers per numpy call."""


def grid_cells(
    rows: Iterable[tuple[int, int, float, float]], bbox: BBox, columns: int, rows_count: int
) -> list[GridCell]:
    """GridCells from (cell key = column * rows + row, count, mean x, mean y)."""
    xmin, ymin, xmax, ymax = bbox
    width, height = (xmax - xmin) / columns, (ymax - ymin) / rows_count
    cells = []
    for cell, count, x, y in rows:
        i, j = divmod(int(cell), rows_count)
        x0, y0 = xmin + i * width, ymin + j * height
        cells.append(GridCell(int(count), float(x), float(y), (x0, y0, x0 + width, y0 + height)))
    return cells


class Centres:
    """Box centres of every feature of one version, as the R-tree stores them (float32 boxes),
    with the features' `fid`s."""

    def __init__(self, x: np.ndarray, y: np.ndarray, ids: np.ndarray) -> None:
        order = np.argsort(x, kind="stable")
        self.x, self.y, self.ids = x[order], y[order], ids[order]

    @classmethod
    def from_rtree(cls, connection: sqlite3.Connection, rtree: str, ids: str = "1") -> Centres:
        """The centres of the boxes whose `id` meets the SQL condition `ids`."""
        cursor = connection.execute(
            f"SELECT id, (minx + maxx) / 2, (miny + maxy) / 2 FROM {quote_identifier(rtree)} "
            f"WHERE {ids}"
        )
        # a part at a time: one numpy call over millions of rows would hold the interpreter
        # long enough for the server to take the worker for dead
        parts = [np.empty((0, 3))]
        while part := cursor.fetchmany(PART):
            parts.append(np.array(part, dtype=np.float64))
        rows = np.concatenate(parts)
        return cls(rows[:, 1].copy(), rows[:, 2].copy(), rows[:, 0].astype(np.int64))

    def changed(self, removed: np.ndarray, added: Centres) -> Centres:
        """These centres without the features `removed` (fids) and with those `added`: the
        next version's, from a change set's rows alone."""
        keep = ~np.isin(self.ids, removed)
        x, y, ids = self.x[keep], self.y[keep], self.ids[keep]
        at = np.searchsorted(x, added.x, side="right")
        changed = Centres.__new__(Centres)
        changed.x = np.insert(x, at, added.x)
        changed.y = np.insert(y, at, added.y)
        changed.ids = np.insert(ids, at, added.ids)
        return changed

    def grid(self, bbox: BBox, columns: int, rows: int) -> list[GridCell]:
        """Same cells, counts and means as the SQL grid: centres in [min, max) per axis."""
        xmin, ymin, xmax, ymax = bbox
        width, height = (xmax - xmin) / columns, (ymax - ymin) / rows
        start, stop = np.searchsorted(self.x, [xmin, xmax], side="left")
        x, y = self.x[start:stop], self.y[start:stop]
        inside = (y >= ymin) & (y < ymax)
        x, y = x[inside], y[inside]
        column = np.minimum(((x - xmin) / width).astype(np.int64), columns - 1)
        row = np.minimum(((y - ymin) / height).astype(np.int64), rows - 1)
        key = column * rows + row
        size = columns * rows
        counts = np.bincount(key, minlength=size)
        sum_x = np.bincount(key, weights=x, minlength=size)
        sum_y = np.bincount(key, weights=y, minlength=size)
        (used,) = np.nonzero(counts)
        return grid_cells(
            zip(
                used,
                counts[used],
                sum_x[used] / counts[used],
                sum_y[used] / counts[used],
                strict=True,
            ),
            bbox,
            columns,
            rows,
        )
