#!/usr/bin/env python3
"""The peers' side of the benchmark: one tool, one workload, one process (so that /usr/bin/time measures it).

    peers.py duckdb|polars|pandas a|b|c|d DATA OUT.parquet
        DATA is a folder written by `gen.py exports` (input/ and layout.json). The plain job an analyst would
        write with each tool: read the export(s), type the start and end date columns (lenient: a date that
        does not parse becomes null) and the decimal hours column, write one zstd Parquet file.
    peers.py duckdb e DIR OUT
        Run followup's SQL models (sql/, non-test) in DuckDB over the tables of DIR (<name>.parquet files and
        <name>/ folders of parts), in dependency order, each written to OUT/<model>.parquet; prints
        {"models": {name: rows}} like `followup models`.

Each tool is used as its documentation suggests for the input at hand: DuckDB's CSV reader (the encodings
extension for Windows-1252) and the excel extension, both loaded from their PyPI packages' files; Polars'
lazy scan for UTF-8 and read_csv for Windows-1252 (which Polars decodes in Python), fastexcel for xlsx;
pandas' C parser and the calamine engine for xlsx.
"""

import json
import os
import re
import sys
import time
from pathlib import Path

SQL = Path(os.environ.get("FOLLOWUP_BENCH_SQL") or Path(__file__).resolve().parent.parent / "sql")


def duckdb_connect(*extensions):
    import importlib

    import duckdb

    con = duckdb.connect()
    for name in extensions:  # duckdb-extension-<name> ships the binary; LOAD by path needs no download
        pkg = Path(importlib.import_module(f"duckdb_extension_{name}").__file__).parent
        con.execute(f"LOAD '{next(pkg.glob('extensions/*/*.duckdb_extension'))}'")
    return con


def duckdb_job(lay, files, out):
    start, end, hours = lay["start"], lay["end"], lay["hours"]
    if lay["fmt"] == "xlsx":
        con = duckdb_connect("excel")
        last = chr(ord("A") + len(lay["columns"]) - 1)
        src = (f"read_xlsx('{files[0]}', sheet='{lay['sheet']}', range='A{lay['header_row']}:{last}', "
               f"header=true, stop_at_empty=true, ignore_errors=true)")
        typed = (f'* replace (try_cast("{start}" as date) as "{start}", try_cast("{end}" as date) as "{end}", '
                 f'try_cast("{hours}" as double) as "{hours}")')
    else:
        con = duckdb_connect("encodings") if lay["encoding"] == "cp1252" else duckdb_connect()
        enc = "CP1252" if lay["encoding"] == "cp1252" else "utf-8"
        src = (f"read_csv({files!r}, delim='{lay['delimiter']}', header=true, encoding='{enc}', "
               f"decimal_separator='{lay['decimal']}', "
               f"types={{'{start}': 'VARCHAR', '{end}': 'VARCHAR', '{hours}': 'DOUBLE'}})")
        fmt = lay["date"]
        typed = (f"* replace (try_strptime(\"{start}\", '{fmt}')::date as \"{start}\", "
                 f"try_strptime(\"{end}\", '{fmt}')::date as \"{end}\")")
    con.execute(f"copy (select {typed} from {src}) to '{out}' (format parquet, compression zstd)")


def polars_job(lay, files, out):
    import polars as pl

    start, end, hours = lay["start"], lay["end"], lay["hours"]
    if lay["fmt"] == "xlsx":
        dtypes = {start: "date", end: "date", hours: "float"}  # a cell that is no date becomes null
        df = pl.read_excel(files[0], sheet_name=lay["sheet"], engine="calamine",
                           read_options={"header_row": lay["header_row"] - 1, "dtypes": dtypes})
        df.write_parquet(out, compression="zstd")
        return
    opts = dict(separator=lay["delimiter"], decimal_comma=lay["decimal"] == ",",
                schema_overrides={start: pl.String, end: pl.String, hours: pl.Float64})
    dates = [pl.col(c).str.to_date(lay["date"], strict=False) for c in (start, end)]
    if lay["encoding"] == "utf-8":
        pl.scan_csv(files, **opts).with_columns(dates).sink_parquet(out, compression="zstd")
    else:
        df = pl.concat([pl.read_csv(f, encoding=lay["encoding"], **opts) for f in files])
        df.with_columns(dates).write_parquet(out, compression="zstd")


def pandas_job(lay, files, out):
    import pandas as pd

    start, end, hours = lay["start"], lay["end"], lay["hours"]
    if lay["fmt"] == "xlsx":
        df = pd.read_excel(files[0], sheet_name=lay["sheet"], header=lay["header_row"] - 1, engine="calamine",
                           dtype={hours: float})
        fmt = None  # date cells arrive as timestamps, a text cell as str
    else:
        opts = dict(sep=lay["delimiter"], decimal=lay["decimal"], encoding=lay["encoding"],
                    dtype={start: str, end: str, hours: float})
        df = pd.concat([pd.read_csv(f, **opts) for f in files], ignore_index=True)
        fmt = lay["date"]
    for c in (start, end):
        df[c] = pd.to_datetime(df[c], format=fmt, errors="coerce")
    df.to_parquet(out, compression="zstd", index=False)


def model_order(sql_dir: Path) -> list[tuple[str, str]]:
    """Non-test models in dependency order (Kahn, ties by name), as followup orders them."""
    models = {p.stem: p.read_text(encoding="utf-8") for p in sorted(sql_dir.rglob("*.sql")) if p.parent.name != "tests"}
    deps = {n: {m for m in re.findall(r"\b(?:from|join)\s+([a-z_][a-z0-9_]*)", re.sub(r"--[^\n]*", "", s), re.I)
                if m in models and m != n} for n, s in models.items()}
    done, order = set(), []
    while len(order) < len(models):
        ready = sorted(n for n in models if n not in done and deps[n] <= done)
        if not ready:
            sys.exit(f"models form a cycle: {sorted(set(models) - done)}")
        done |= set(ready)
        order += [(n, models[n]) for n in ready]
    return order


def date_series(sql: str) -> str:
    """`unnest(generate_series(…))` over dates yields dates in DataFusion, timestamps in DuckDB: cast back."""
    out, i, key = [], 0, "unnest(generate_series("
    while (j := sql.find(key, i)) >= 0:
        k, depth = j + len("unnest"), 0
        while True:  # to the parenthesis that closes unnest(
            depth += {"(": 1, ")": -1}.get(sql[k], 0)
            k += 1
            if depth == 0:
                break
        out += [sql[i:j], "cast(", sql[j:k], " as date)"]
        i = k
    return "".join(out) + sql[i:]


def person_key(sql: str) -> str:
    """followup's `person_key(participant_id)` (a 64-bit integer standing for a pseudonym inside the models) is
    DuckDB's 64-bit `hash()`."""
    return re.sub(r"\bperson_key\(", "hash(", sql)


# The textual rewrites that make sql/ run in DuckDB (bench/README.md lists them), applied to every model.
DUCKDB_REWRITES = [date_series, person_key]


def duckdb_models(src: Path, out: Path):
    con = duckdb_connect()
    for p in sorted(src.iterdir()):
        if p.is_dir():
            con.execute(f"create view {p.name} as select * from read_parquet('{p}/*.parquet')")
        elif p.suffix == ".parquet":
            con.execute(f"create view {p.stem} as select * from read_parquet('{p}')")
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, sql in model_order(SQL):
        for rewrite in DUCKDB_REWRITES:
            sql = rewrite(sql)
        started = time.monotonic()
        con.execute(f"create or replace table {name} as {sql}")
        con.execute(f"copy {name} to '{out / name}.parquet' (format parquet, compression zstd)")
        rows[name] = con.execute(f"select count(*) from {name}").fetchone()[0]
        print(f"model {name}: {rows[name]} rows in {time.monotonic() - started:.2f} s", file=sys.stderr)
    print(json.dumps({"models": rows}))


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    tool, workload, data, out = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    if workload == "e":
        if tool != "duckdb":
            sys.exit("workload e runs in DuckDB only")
        duckdb_models(data, out)
        return
    lay = json.loads((data / "layout.json").read_text(encoding="utf-8"))
    files = [str(p) for p in sorted((data / "input").glob(lay["files"]))]
    {"duckdb": duckdb_job, "polars": polars_job, "pandas": pandas_job}[tool](lay, files, str(out))


if __name__ == "__main__":
    main()
