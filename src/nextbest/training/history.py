"""Reading a response history (CSV or Parquet) into typed columns, and writing one (CSV).

What a cell becomes, the same rule the service applies to a request:

* a numeric feature is float32; an empty cell, ``NA``, ``NaN``, ``null``, ``None`` or
  ``n/a`` (any case) is missing (NaN, imputed inside the model);
* a categorical feature is text, taken as it is; the same missing markers become the
  empty string, which is also what serving sends for a value the request lacks;
* the outcome is kept as labels (see :func:`nextbest.training.spec.label_of`).

CSV: the first line names the columns; comma, semicolon, tab or ``|`` separated (found
from the header line); UTF-8, with or without a byte-order mark. Both CSV and Parquet are
read with pyarrow (in the ``train`` extra), only the columns the spec names. A spec column
matches a header name exactly or, failing that, ignoring case (``TENURE_MONTHS``). Every
error names the file, the column and the row.
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

__all__ = [
    "MISSING",
    "RawTable",
    "categorical_column",
    "column_problems",
    "numeric_column",
    "read_table",
    "text_column",
    "write_csv",
]

MISSING = frozenset({"", "na", "nan", "null", "none", "n/a"})
_DELIMITERS = ",;\t|"


class RawTable:
    """The columns of a history that training asked for, as pyarrow read them."""

    def __init__(self, file: str, columns: Mapping[str, Any], rows: int) -> None:
        self.file = file
        self.columns = dict(columns)
        self.rows = rows


def _matching(wanted: str, header: Sequence[str]) -> str | None:
    """The header's column for ``wanted``: the same name, else the one name equal to it
    ignoring case."""
    if wanted in header:
        return wanted
    folded = [h for h in header if h.casefold() == wanted.casefold()]
    return folded[0] if len(folded) == 1 else None


def _missing_column(file: str, wanted: str, field: str, header: Sequence[str]) -> TrainingError:
    return TrainingError(file, f"column {wanted!r}", _missing_problem(wanted, field, header))


def _missing_problem(wanted: str, field: str, header: Sequence[str]) -> str:
    by_fold = {h.casefold(): h for h in header}
    close = difflib.get_close_matches(wanted.casefold(), list(by_fold), n=1)
    hint = f"did you mean {by_fold[close[0]]!r}? " if close else ""
    shown = ", ".join(header[:30]) + (", ..." if len(header) > 30 else "")
    return f"no such column (named by {field}); {hint}the file has: {shown}"


def _locate(file: str, wanted: Mapping[str, str], header: Sequence[str]) -> dict[str, str]:
    """Each wanted column -> its name in the file; raises for the first missing one."""
    found = {c: _matching(c, header) for c in wanted}
    for column, match in found.items():
        if match is None:
            raise _missing_column(file, column, wanted[column], header)
    return {c: m for c, m in found.items() if m is not None}


def column_problems(path: Path, wanted: Mapping[str, str]) -> list[TrainingError]:
    """Every problem of the file and its header, found without reading the data rows."""
    file = str(path)
    if not path.is_file():
        return [TrainingError(file, None, "history file does not exist")]
    if path.stat().st_size == 0:
        return [TrainingError(file, None, "the file is empty")]
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq  # type: ignore[import-untyped]

            header = list(pq.ParquetFile(path).schema_arrow.names)
        else:
            header, _ = _header(path)
    except TrainingError as exc:
        return [exc]
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        return [TrainingError(file, None, f"not a readable Parquet file ({exc})")]
    return [
        _missing_column(file, column, field, header)
        for column, field in wanted.items()
        if _matching(column, header) is None
    ]


def _header(path: Path) -> tuple[list[str], str]:
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
    return header, str(dialect.delimiter)


def _read_csv(path: Path, wanted: Mapping[str, str]) -> RawTable:
    import pyarrow as pa
    from pyarrow import csv as pacsv

    file = str(path)
    header, delimiter = _header(path)
    found = _locate(file, wanted, header)
    names = list(dict.fromkeys(found.values()))
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                include_columns=names,
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise TrainingError(file, None, f"not a readable CSV file ({exc})") from exc
    return RawTable(file, {c: table.column(found[c]) for c in wanted}, table.num_rows)


def _read_parquet(path: Path, wanted: Mapping[str, str]) -> RawTable:
    import pyarrow.parquet as pq

    file = str(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise TrainingError(file, None, f"not a readable Parquet file ({exc})") from exc
    header = list(parquet.schema_arrow.names)
    found = _locate(file, wanted, header)
    table = parquet.read(columns=list(dict.fromkeys(found.values())))
    return RawTable(file, {c: table.column(found[c]) for c in wanted}, table.num_rows)


def read_table(path: Path, wanted: Mapping[str, str]) -> RawTable:
    """Read the columns ``wanted`` (column -> the spec field naming it) from ``path``; a
    column matches a header name exactly or, failing that, ignoring case."""
    file = str(path)
    if not path.is_file():
        raise TrainingError(file, None, "history file does not exist")
    if path.stat().st_size == 0:
        raise TrainingError(file, None, "the file is empty")
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise TrainingError(
            file, None, "reading a history needs pyarrow: pip install 'nextbest[train]'"
        ) from exc
    if path.suffix.lower() in (".parquet", ".pq"):
        table = _read_parquet(path, wanted)
    else:
        table = _read_csv(path, wanted)
    if table.rows == 0:
        raise TrainingError(file, None, "the file has no data rows")
    return table


def _as_text(values: Any) -> Any:
    """An arrow column as strings; a null as the empty string."""
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    return pc.fill_null(values, "")


def _missing_mask(text: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    folded = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    return pc.is_in(folded, value_set=pa.array(sorted(MISSING)))


def numeric_column(table: RawTable, column: str, field: str) -> NDArray[np.float32]:
    """A numeric feature: float32, missing cells NaN; a cell that is not a number is an
    error naming the column and row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = table.columns[column]
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        numbers = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    else:
        text = _as_text(values)
        missing = _missing_mask(text)
        present = pc.if_else(missing, pa.scalar(None, pa.string()), pc.utf8_trim_whitespace(text))
        try:
            numbers = pc.cast(present, pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            cells = present.to_pylist()
            for row, cell in enumerate(cells, start=1):
                if cell is None:
                    continue
                try:
                    float(cell)
                except ValueError:
                    raise TrainingError(
                        table.file,
                        f"column {column!r}",
                        f"data row {row}: {cell!r} is not a number ({field} is numeric)",
                    ) from None
            raise
    numbers = np.asarray(numbers, dtype=np.float64)
    if np.isinf(numbers).any():
        row = int(np.flatnonzero(np.isinf(numbers))[0]) + 1
        raise TrainingError(table.file, f"column {column!r}", f"data row {row}: infinite value")
    return numbers.astype(np.float32)


def text_column(table: RawTable, column: str) -> NDArray[np.object_]:
    """A column as Python strings, each distinct value one shared object; a null as the
    empty string."""
    import pyarrow as pa

    encoded = _as_text(table.columns[column])
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    encoded = encoded.dictionary_encode()
    words = np.array(encoded.dictionary.to_pylist(), dtype=object)
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    out: NDArray[np.object_] = words[indices]
    return out


def categorical_column(table: RawTable, column: str) -> NDArray[np.object_]:
    """A categorical feature: text, missing cells the empty string."""
    text = text_column(table, column)
    words, inverse = np.unique(text, return_inverse=True)
    folded = np.char.lower(np.char.strip(words.astype(str)))
    blank = np.isin(folded, list(MISSING))
    words = np.where(blank, "", words).astype(object)
    out: NDArray[np.object_] = words[inverse]
    return out


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
