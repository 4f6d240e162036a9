"""Reading a response history (CSV or Parquet) into typed columns, and writing one (CSV).

What a cell becomes, the same rule the service applies to a request:

* a numeric feature is float32; an empty cell, ``NA``, ``NaN``, ``null``, ``None`` or
  ``n/a`` (any case) is missing (NaN, imputed inside the model);
* a categorical feature is text, taken as it is; the same missing markers become the
  empty string, which is also what serving sends for a value the request lacks;
* the outcome is kept as labels (see :func:`nextbest.training.spec.label_of`).

CSV: the first line names the columns; comma, semicolon, tab or ``|`` separated (found
from the header line); UTF-8, with or without a byte-order mark. Parquet needs pyarrow
(in the ``train`` extra). Every error names the file, the column and the row.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nextbest.training.errors import TrainingError

__all__ = ["MISSING", "RawTable", "categorical_column", "numeric_column", "read_table", "write_csv"]

MISSING = frozenset({"", "na", "nan", "null", "none", "n/a"})
_DELIMITERS = ",;\t|"


class RawTable:
    """The columns of a history that training asked for, as read: text, numbers or None."""

    def __init__(self, file: str, columns: Mapping[str, NDArray[Any]], rows: int) -> None:
        self.file = file
        self.columns = dict(columns)
        self.rows = rows


def _missing_column(file: str, wanted: str, field: str, header: Sequence[str]) -> TrainingError:
    close = difflib.get_close_matches(wanted, list(header), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    shown = ", ".join(header[:30]) + (", ..." if len(header) > 30 else "")
    return TrainingError(
        file,
        f"column {wanted!r}",
        f"no such column (named by {field}); {hint}the file has: {shown}",
    )


def _read_csv(path: Path, wanted: Mapping[str, str]) -> RawTable:
    file = str(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        first = fh.readline()
        if not first.strip():
            raise TrainingError(file, None, "the file is empty (no header line)")
        try:
            dialect: Any = csv.Sniffer().sniff(first, delimiters=_DELIMITERS)
        except csv.Error:
            dialect = csv.excel
        header = next(csv.reader([first], dialect))
        position = {name: i for i, name in enumerate(header)}
        for column, field in wanted.items():
            if column not in position:
                raise _missing_column(file, column, field, header)
        picks = [position[c] for c in wanted]
        cells: list[list[str]] = [[] for _ in wanted]
        width = len(header)
        for row_number, row in enumerate(csv.reader(fh, dialect), start=1):
            if not row:
                continue
            if len(row) != width:
                raise TrainingError(
                    file, f"data row {row_number}", f"has {len(row)} fields, the header {width}"
                )
            for values, pick in zip(cells, picks, strict=True):
                values.append(row[pick])
    rows = len(cells[0]) if cells else 0
    columns = {c: np.array(v, dtype=object) for c, v in zip(wanted, cells, strict=True)}
    return RawTable(file, columns, rows)


def _read_parquet(path: Path, wanted: Mapping[str, str]) -> RawTable:
    file = str(path)
    try:
        # Imported here: only Parquet needs it. pyarrow ships no type information.
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError as exc:
        raise TrainingError(
            file, None, "reading Parquet needs pyarrow: pip install 'nextbest[train]'"
        ) from exc
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise TrainingError(file, None, f"not a readable Parquet file ({exc})") from exc
    header = list(parquet.schema_arrow.names)
    for column, field in wanted.items():
        if column not in header:
            raise _missing_column(file, column, field, header)
    table = parquet.read(columns=list(wanted))
    columns = {c: np.array(table.column(c).to_pylist(), dtype=object) for c in wanted}
    return RawTable(file, columns, table.num_rows)


def read_table(path: Path, wanted: Mapping[str, str]) -> RawTable:
    """Read the columns ``wanted`` (column -> the spec field naming it) from ``path``."""
    file = str(path)
    if not path.is_file():
        raise TrainingError(file, None, "history file does not exist")
    if path.stat().st_size == 0:
        raise TrainingError(file, None, "the file is empty")
    if path.suffix.lower() in (".parquet", ".pq"):
        table = _read_parquet(path, wanted)
    else:
        table = _read_csv(path, wanted)
    if table.rows == 0:
        raise TrainingError(file, None, "the file has no data rows")
    return table


def _texts(values: NDArray[Any]) -> NDArray[np.str_]:
    """Cells as text; None (a Parquet null) as the empty string."""
    return np.array(["" if v is None else str(v) for v in values], dtype=str)


def _is_missing(values: NDArray[Any]) -> NDArray[np.bool_]:
    folded = np.char.lower(np.char.strip(_texts(values)))
    missing: NDArray[np.bool_] = np.isin(folded, list(MISSING))
    return missing


def numeric_column(table: RawTable, column: str, field: str) -> NDArray[np.float32]:
    """A numeric feature: float32, missing cells NaN; a cell that is not a number is an
    error naming the column and row."""
    values = table.columns[column]
    missing = _is_missing(values)
    present = np.where(missing, "nan", _texts(values))
    try:
        numbers = np.char.strip(present).astype(np.float64)
    except ValueError:
        for row, (cell, gap) in enumerate(zip(values, missing, strict=True), start=1):
            if gap:
                continue
            try:
                float(str(cell))
            except ValueError:
                raise TrainingError(
                    table.file,
                    f"column {column!r}",
                    f"data row {row}: {cell!r} is not a number ({field} is numeric)",
                ) from None
        raise
    if np.isinf(numbers).any():
        row = int(np.flatnonzero(np.isinf(numbers))[0]) + 1
        raise TrainingError(table.file, f"column {column!r}", f"data row {row}: infinite value")
    return numbers.astype(np.float32)


def categorical_column(table: RawTable, column: str) -> NDArray[np.object_]:
    """A categorical feature: text, missing cells the empty string."""
    values = table.columns[column]
    text = _texts(values)
    return np.where(_is_missing(values), "", text).astype(object)


def _cell(value: Any) -> str:
    if isinstance(value, np.floating):
        if np.isnan(value):
            return ""
        return np.format_float_positional(value, unique=True, trim="-")
    return str(value)


def write_csv(columns: Mapping[str, NDArray[Any]], path: Path) -> None:
    """Write columnar rows as CSV: NaN as an empty cell, floats in their shortest form."""
    names = list(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in zip(*(columns[n] for n in names), strict=True):
        writer.writerow([_cell(v) for v in row])
    path.write_text(buffer.getvalue(), encoding="utf-8")
