"""Read `followup export` output as an outsider would: the workbook with openpyxl, the CSV for Swedish Excel
with Python's csv module, both against the published marts read with pyarrow.

    python tests/outside/check_export.py WAREHOUSE_DIR WORKBOOK.xlsx CSV_SV_DIR

Checks, independently of the Rust code:
  * the workbook has one sheet per published mart (the Parquet files under current/published), named
    after it, with the header row frozen (freeze_panes == 'A2'), an autofilter over the header and every
    column's width set;
  * every cell equals the mart's value: numbers are numeric cells (int/float, never text; shares with a
    percentage format), dates are date cells with a date number format, texts are texts, and a null (a
    hidden cell) is an empty cell;
  * every CSV starts with a UTF-8 BOM, separates fields with ';', writes floats with a decimal comma, and
    parses back (utf-8-sig, ';', comma -> point) to the same values.
Prints every difference and exits non-zero when there is any.
"""
import csv
import datetime
import pathlib
import sys

import openpyxl
from openpyxl.utils import get_column_letter
import pyarrow as pa
import pyarrow.parquet as pq

failures = []


def fail(msg):
    failures.append(msg)
    if len(failures) <= 50:
        print("FAIL", msg)


def is_int(t):
    return pa.types.is_integer(t)


def is_float(t):
    return pa.types.is_floating(t) or pa.types.is_decimal(t)


def check_sheet(ws, mart, table):
    names = table.schema.names
    if ws.freeze_panes != "A2":
        fail(f"{mart}: freeze_panes is {ws.freeze_panes!r}, expected 'A2' (header row frozen)")
    if not ws.auto_filter.ref or not ws.auto_filter.ref.startswith("A1:"):
        fail(f"{mart}: expected an autofilter over the header, found {ws.auto_filter.ref!r}")
    header = [c.value for c in ws[1]]
    if header != names:
        fail(f"{mart}: header {header}, expected {names}")
    # A <col> element may cover several columns (min..max) that share a width.
    widths = {}
    for dim in ws.column_dimensions.values():
        if dim.customWidth and dim.min and dim.max:
            for i in range(dim.min, dim.max + 1):
                widths[i] = dim.width
    for i, name in enumerate(names, start=1):
        if widths.get(i, 0) < len(name):
            fail(f"{mart}: column {get_column_letter(i)} ({name}) width {widths.get(i)}, expected one set, at least {len(name)}")
    if ws.max_row != table.num_rows + 1:
        fail(f"{mart}: {ws.max_row - 1} data rows, expected {table.num_rows}")
    rows = table.to_pylist()
    numeric_cells = 0
    for r, (want, cells) in enumerate(zip(rows, ws.iter_rows(min_row=2)), start=2):
        for field, cell in zip(table.schema, cells):
            v = want[field.name]
            at = f"{mart}!{cell.coordinate} ({field.name})"
            if v is None:
                if cell.value is not None:
                    fail(f"{at}: a null (hidden) cell, expected empty, found {cell.value!r}")
                continue
            t = field.type
            if is_int(t) or is_float(t):
                numeric_cells += 1
                if cell.data_type != "n" or isinstance(cell.value, (str, bool)):
                    fail(f"{at}: expected a numeric cell, found {cell.data_type} {cell.value!r}")
                elif float(cell.value) != float(v):
                    fail(f"{at}: expected {v}, found {cell.value}")
                elif field.name.startswith("share_") and "%" not in cell.number_format:
                    fail(f"{at}: a share, expected a percentage number format, found {cell.number_format!r}")
            elif pa.types.is_date(t):
                if not isinstance(cell.value, datetime.datetime) or cell.value.date() != v:
                    fail(f"{at}: expected the date {v}, found {cell.value!r}")
                if not cell.is_date or "yy" not in cell.number_format:
                    fail(f"{at}: expected a date number format, found {cell.number_format!r}")
            elif pa.types.is_boolean(t):
                if cell.value is not v:
                    fail(f"{at}: expected {v}, found {cell.value!r}")
            elif cell.value != v or cell.data_type != "s":
                fail(f"{at}: expected the text {v!r}, found {cell.data_type} {cell.value!r}")
    return numeric_cells


def text_of(v, t):
    """The CSV-sv text of a value: decimal comma for floats, ISO dates, SANT/FALSKT."""
    if v is None:
        return ""
    if pa.types.is_boolean(t):
        return "SANT" if v else "FALSKT"
    if pa.types.is_date(t):
        return v.isoformat()
    return str(v)


def check_csv_sv(path, mart, table):
    raw = path.read_bytes()
    if not raw.startswith(b"\xef\xbb\xbf"):
        fail(f"{path}: expected a UTF-8 BOM, found {raw[:3]!r}")
    first = raw.split(b"\r\n", 1)[0]
    if b";" not in first or b"," in first:
        fail(f"{path}: expected ';' between header fields, found {first!r}")
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    if rows[0] != table.schema.names:
        fail(f"{path}: header {rows[0]}, expected {table.schema.names}")
    if len(rows) - 1 != table.num_rows:
        fail(f"{path}: {len(rows) - 1} rows, expected {table.num_rows}")
    floats = 0
    for r, (want, got) in enumerate(zip(table.to_pylist(), rows[1:]), start=2):
        for i, field in enumerate(table.schema):
            v, s = want[field.name], got[i]
            at = f"{path.name} line {r} ({field.name})"
            if v is not None and is_float(field.type):
                floats += 1
                if "." in s:
                    fail(f"{at}: expected a decimal comma, found {s!r}")
                elif float(s.replace(",", ".")) != float(v):
                    fail(f"{at}: expected {v}, found {s!r}")
            elif s != text_of(v, field.type):
                fail(f"{at}: expected {text_of(v, field.type)!r}, found {s!r}")
    return floats


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    warehouse, workbook, csv_dir = (pathlib.Path(a) for a in sys.argv[1:])
    published = sorted((warehouse / "current" / "published").glob("*.parquet"))
    if not published:
        sys.exit(f"no published marts under {warehouse}/current/published")
    tables = {p.stem: pq.read_table(p) for p in published}
    wb = openpyxl.load_workbook(workbook)
    if sorted(wb.sheetnames) != sorted(tables):
        fail(f"sheets {wb.sheetnames}, expected one per published mart: {sorted(tables)}")
    numeric = floats = 0
    for mart, table in tables.items():
        if mart in wb.sheetnames:
            numeric += check_sheet(wb[mart], mart, table)
        path = csv_dir / f"{mart}.csv"
        if not path.exists():
            fail(f"{path}: missing")
            continue
        floats += check_csv_sv(path, mart, table)
    if numeric == 0 or floats == 0:
        fail(f"expected numeric cells and floats to check, found {numeric} and {floats}")
    if failures:
        print(f"{len(failures)} problem(s) in the export")
        sys.exit(1)
    print(f"export OK: {len(tables)} sheets and CSV files, {numeric} numeric cells, {floats} decimal-comma floats")


if __name__ == "__main__":
    main()
