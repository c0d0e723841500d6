"""Read a published followup warehouse as an outsider would: every table with pyarrow and with DuckDB.

    python tests/outside/check_warehouse.py WAREHOUSE_DIR [SAMPLE_INPUTS_DIR [--exit-code N]]

Checks, independently of the Rust code:
  * every table and mart under WAREHOUSE_DIR/current opens in pyarrow and DuckDB with the same row count,
    with BI-friendly types only (no string_view, no null-typed or unsigned columns);
  * every file reconciles: rows_read = rows_loaded + rows_rejected + rows_skipped;
  * no string anywhere looks like a personnummer (10 or 12 digits);
  * the run's exit code was 1 exactly when some EXPECTED.json lists a file that must fail, else 0;
  * for every project folder holding an EXPECTED.json written by the sample generator from its ground
    truth, the warehouse's figures equal the generator's (file counts, rejects per rule, regional_overview,
    and the marts esf_indicators, target_followup, monthly_active (gender total), method_outcomes (gender
    total), pathway_steps and pathway_transitions): counts exactly, floats to 1e-6, every key both ways.
Prints every difference (project, mart, key) and exits non-zero when there is any.
"""
import json
import pathlib
import re
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

PNR = re.compile(r"(?<!\d)(\d{6}|\d{8})[-+]?\d{4}(?!\d)")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


def same(a, b):
    """Counts, flags and texts exactly; floats to 1e-6; null only equals null."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-6
    return a == b


def compare_mart(project, mart, expected, got):
    """expected, got: {key tuple: {field: value}}. Reports every missing or extra key and every field that
    differs."""
    def show(k):
        return "/".join("-" if x is None else str(x) for x in k)
    for k in sorted(expected, key=show):
        if k not in got:
            fail(f"{project}: {mart} [{show(k)}]: expected {expected[k]}, the warehouse has no such row")
            continue
        for field, v in expected[k].items():
            if not same(v, got[k].get(field)):
                fail(f"{project}: {mart} [{show(k)}] {field}: expected {v}, warehouse has {got[k].get(field)}")
    for k in sorted(set(got) - set(expected), key=show):
        fail(f"{project}: {mart} [{show(k)}]: the warehouse has {got[k]}, EXPECTED.json has no such row")


def rows(con, sql, project, keys, fields):
    out = {}
    for r in con.execute(sql, [project]).fetchall():
        rec = dict(zip(keys + fields, r))
        out[tuple(rec[k] for k in keys)] = {f: rec[f] for f in fields}
    return out


def check_marts(con, tables, project, exp):
    """The new marts against the generator's ground-truth figures."""
    def has(mart):
        if mart not in exp:
            return False
        if mart not in tables:
            fail(f"{project}: mart {mart} is missing from the warehouse")
            return False
        return True

    if has("esf_indicators"):
        want = {(code, g): v for code, by_g in exp["esf_indicators"].items() for g, v in by_g.items()}
        got = rows(con, "select indicator_code, gender, value, available from esf_indicators where project_id = ?",
                   project, ["indicator_code", "gender"], ["value", "available"])
        compare_mart(project, "esf_indicators", want, got)
    if has("target_followup"):
        want = {(t,): v for t, v in exp["target_followup"].items()}
        got = rows(con, "select target_id, round(actual_value, 6), status from target_followup where project_id = ?",
                   project, ["target_id"], ["actual_value", "status"])
        compare_mart(project, "target_followup", want, got)
    if has("monthly_active"):
        ma = exp["monthly_active"]
        scopes = [("project", None, ma.get("project", {}))] + [
            ("subproject", sp, v) for sp, v in ma.get("subprojects", {}).items()]
        want = {(level, sp, month): dict(zip(["active", "starts", "exits"], v))
                for level, sp, series in scopes for month, v in series.items()}
        got = rows(con, "select level, subproject_id, strftime(month, '%Y-%m-%d'), active, starts, exits "
                        "from monthly_active where project_id = ? and gender = 'total'",
                   project, ["level", "subproject_id", "month"], ["active", "starts", "exits"])
        compare_mart(project, "monthly_active", want, got)
    if has("method_outcomes"):
        want = {(t,): v for t, v in exp["method_outcomes"].items()}
        got = rows(con, "select activity_type, participants, exited, exits_work_or_studies from method_outcomes "
                        "where project_id = ? and gender = 'total'",
                   project, ["activity_type"], ["participants", "exited", "exits_work_or_studies"])
        compare_mart(project, "method_outcomes", want, got)
    if has("pathway_steps"):
        want = {(st,): v for st, v in exp["pathway_steps"].items()}
        got = rows(con, "select step, participants_reached, participants_current, moved_on, median_days_in_step "
                        "from pathway_steps where project_id = ?",
                   project, ["step"], ["participants_reached", "participants_current", "moved_on",
                                       "median_days_in_step"])
        compare_mart(project, "pathway_steps", want, got)
    if has("pathway_transitions"):
        want = {(a, b): v for a, to in exp["pathway_transitions"].items() for b, v in to.items()}
        got = rows(con, "select from_step, to_step, participants, median_days_between_starts "
                        "from pathway_transitions where project_id = ?",
                   project, ["from_step", "to_step"], ["participants", "median_days_between_starts"])
        compare_mart(project, "pathway_transitions", want, got)


def main():
    wh = pathlib.Path(sys.argv[1]) / "current"
    samples = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 and not sys.argv[2].startswith("--") else None
    tables = {}
    for p in sorted(wh.iterdir()):
        if p.name.startswith("."):
            continue
        name = p.stem if p.suffix == ".parquet" else p.name
        if p.suffix != ".parquet" and not p.is_dir():
            continue
        t = pq.read_table(p)
        glob = str(p / "*.parquet") if p.is_dir() else str(p)
        n_duck = duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchone()[0]
        if n_duck != t.num_rows:
            fail(f"{name}: pyarrow reads {t.num_rows} rows, DuckDB {n_duck}")
        for f in t.schema:
            if pa.types.is_string_view(f.type) or pa.types.is_null(f.type) or pa.types.is_unsigned_integer(f.type):
                fail(f"{name}.{f.name}: type {f.type} is not BI-friendly")
        for f in t.schema:
            if pa.types.is_string(f.type) and f.name not in ("participant_id", "sha256", "cache_key", "load_id"):
                for v in t.column(f.name).to_pylist():
                    if v and PNR.search(v) and not re.fullmatch(r"[\d\- :T.Z]+", v):
                        fail(f"{name}.{f.name}: a value looks like a personnummer")
                        break
        tables[name] = t
    print(f"read {len(tables)} tables with pyarrow and DuckDB:", ", ".join(sorted(tables)))
    for required in ["enrolments", "rejects", "file_loads", "runs", "projects", "subprojects", "targets",
                     "regional_overview"]:
        if required not in tables:
            fail(f"table {required} is missing")

    con = duckdb.connect()
    for name in tables:
        p = wh / (name + ".parquet") if (wh / (name + ".parquet")).exists() else wh / name / "*.parquet"
        con.execute(f"create view {name} as select * from read_parquet('{p}')")
    last = con.execute("select max(load_id) from file_loads").fetchone()[0]
    bad = con.execute(
        "select path from file_loads where rows_read <> rows_loaded + rows_rejected + rows_skipped").fetchall()
    for (path,) in bad:
        fail(f"{path} does not reconcile")

    if samples is None:
        return
    expected_failed = any(
        f.get("status") == "failed"
        for e in samples.glob("*/EXPECTED.json")
        for f in json.loads(e.read_text(encoding="utf-8")).get("files", {}).values())
    if "--exit-code" in sys.argv:
        code = int(sys.argv[sys.argv.index("--exit-code") + 1])
        if code != (1 if expected_failed else 0):
            fail(f"followup run exited {code}; expected {1 if expected_failed else 0}")
    for expected_file in sorted(samples.glob("*/EXPECTED.json")):
        project = expected_file.parent.name
        exp = json.loads(expected_file.read_text(encoding="utf-8"))
        got_files = {
            r[0].split("/", 1)[1]: dict(zip(["status", "rows_read", "rows_loaded", "rows_rejected", "rows_skipped"], r[1:]))
            for r in con.execute(
                "select path, status, rows_read, rows_loaded, rows_rejected, rows_skipped from file_loads "
                "where load_id = ? and project_id = ?", [last, project]).fetchall()
        }
        for path, e in exp.get("files", {}).items():
            g = got_files.get(path)
            if g is None:
                fail(f"{project}: file {path} was not loaded")
                continue
            for k, v in e.items():
                if g.get(k) != v:
                    fail(f"{project}: {path}: {k} expected {v}, warehouse has {g.get(k)}")
        for path in got_files:
            if path not in exp.get("files", {}):
                fail(f"{project}: warehouse loaded {path}, which EXPECTED.json does not list")
        rules = dict(con.execute(
            "select rule, count(*) from rejects where project_id = ? group by rule", [project]).fetchall())
        if rules != exp.get("rejects_by_rule", {}):
            fail(f"{project}: rejects by rule expected {exp.get('rejects_by_rule')}, warehouse has {rules}")
        report_date = str(con.execute("select report_date from projects where project_id = ?", [project]).fetchone()[0])
        if "report_date" in exp and report_date != exp["report_date"]:
            fail(f"{project}: report date expected {exp['report_date']}, warehouse has {report_date}")
        cols = ["enrolments", "participants", "active", "exited", "exits_work", "exits_studies",
                "exits_job_seeking", "exits_other", "exits_no_outcome"]
        ov = exp.get("overview", {})
        scopes = [("project", None, ov.get("project", {}))] + [
            ("subproject", sp, v) for sp, v in ov.get("subprojects", {}).items()]
        for level, sp, by_gender in scopes:
            for gender, e in by_gender.items():
                row = con.execute(
                    f"select {', '.join(cols)} from regional_overview where project_id = ? and level = ? "
                    "and gender = ? and subproject_id is not distinct from ?", [project, level, gender, sp]).fetchone()
                if row is None:
                    fail(f"{project}: regional_overview has no row for {level} {sp} {gender}")
                    continue
                got = dict(zip(cols, row))
                for k, v in e.items():
                    if got.get(k) != v:
                        fail(f"{project}: regional_overview {level} {sp or ''} {gender}: {k} expected {v}, got {got.get(k)}")
        check_marts(con, tables, project, exp)
        print(f"{project}: checked against {expected_file}")


main()
if failures:
    print(f"{len(failures)} problem(s)")
    sys.exit(1)
print("outside reader: all checks passed")
