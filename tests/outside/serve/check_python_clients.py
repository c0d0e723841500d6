"""`followup serve` through Python's PostgreSQL stack, compared with the warehouse read by pyarrow.

    python check_python_clients.py HOST PORT USER PASSWORD WAREHOUSE_DIR

Checks:
  * psycopg 3: server-side parameters (extended protocol), a prepared statement run 8 times, binary
    results, a multi-statement simple query, and a refused write that leaves the connection usable;
  * SQLAlchemy's inspector: get_table_names (public and published) and get_columns;
  * pandas.read_sql: a mart and a published mart equal to the same Parquet files read by pyarrow.
Exits non-zero on the first failure, printing it.
"""
import math
import pathlib
import sys

import pandas as pd
import psycopg
import pyarrow.parquet as pq
import sqlalchemy as sa

host, port, user, password, warehouse = sys.argv[1:6]
current = pathlib.Path(warehouse) / "current"
conninfo = dict(host=host, port=int(port), user=user, password=password, dbname="followup")


def check(cond, msg):
    if not cond:
        print(f"FAIL: {msg}")
        sys.exit(1)


def parquet(name):
    return pq.read_table(current / f"{name}.parquet").to_pandas()


ro = parquet("regional_overview")
expected_total = ro[(ro.level == "project") & (ro.gender == "total")].set_index("project_id")["enrolments"]

# psycopg: server-side binding, prepared statements, binary results.
with psycopg.connect(**conninfo) as conn:
    sql = ("select enrolments, share_women, report_date from regional_overview "
           "where project_id = %s and level = 'project' and gender = 'total'")
    for project, n in expected_total.items():
        row = conn.execute(sql, (project,)).fetchone()
        check(row is not None and row[0] == n, f"psycopg {project}: {row} != {n}")
    with conn.cursor(binary=True) as cur:
        for i in range(8):
            cur.execute(sql, ("jamtland_integrationsprojekt",), prepare=True)
            row = cur.fetchone()
            check(row[0] == expected_total["jamtland_integrationsprojekt"], f"binary run {i}: {row}")
    cur = conn.execute("select count(*) from enrolments; select count(*) from projects")
    counts = [cur.fetchone()[0]]
    while cur.nextset():
        counts.append(cur.fetchone()[0])
    check(counts == [len(parquet("enrolments")), len(parquet("projects"))], f"multi-statement {counts}")
    try:
        conn.execute("insert into projects select * from projects")
        check(False, "insert was accepted")
    except psycopg.Error as e:
        check(e.sqlstate == "25006", f"insert refused with {e.sqlstate}: {e}")
    conn.rollback()
    check(conn.execute("select 1").fetchone()[0] == 1, "connection unusable after a refusal")
print("psycopg: parameters, prepared x8, binary, multi-statement, refusal OK")

# SQLAlchemy inspector and pandas.
# Client-side binding for SQLAlchemy: its get_columns query puts parameters inside a correlated scalar
# subquery, which datafusion-postgres 0.19 does not type (it decodes the parameters by position among the
# ones it found). Server-side parameters are checked with psycopg above.
engine = sa.create_engine(
    f"postgresql+psycopg://{user}:{password}@{host}:{port}/followup",
    connect_args={"cursor_factory": psycopg.ClientCursor},
)
insp = sa.inspect(engine)
tables = set(insp.get_table_names())
for t in ["enrolments", "regional_overview", "esf_indicators", "target_followup", "monthly_active"]:
    check(t in tables, f"get_table_names lacks {t}: {sorted(tables)}")
published = set(insp.get_table_names(schema="published"))
check("regional_overview" in published, f"published tables {sorted(published)}")
# schema= given: the emulated pg_table_is_visible() is true for every schema, so without it the
# same-named published mart's columns would be merged in.
cols = {c["name"]: str(c["type"]) for c in insp.get_columns("regional_overview", schema="public")}
check(list(cols) == list(ro.columns), f"get_columns {list(cols)} != {list(ro.columns)}")
check(cols["enrolments"] == "BIGINT" and cols["report_date"] == "DATE", f"column types {cols}")
print(f"SQLAlchemy inspector: {len(tables)} tables, {len(published)} published, columns OK")


def same_frames(a, b, what):
    check(list(a.columns) == list(b.columns), f"{what}: columns {list(a.columns)} != {list(b.columns)}")
    check(len(a) == len(b), f"{what}: {len(a)} rows != {len(b)}")
    for col in a.columns:
        for x, y in zip(a[col].tolist(), b[col].tolist()):
            if isinstance(x, float) or isinstance(y, float):
                ok = (x is None or (isinstance(x, float) and math.isnan(x))) and \
                     (y is None or (isinstance(y, float) and math.isnan(y))) or \
                     (x is not None and y is not None and abs(float(x) - float(y)) < 1e-9)
            else:
                ok = (pd.isna(x) and pd.isna(y)) or str(x) == str(y)
            check(ok, f"{what}.{col}: {x!r} != {y!r}")


keys = ["project_id", "level", "subproject_id", "gender"]
with engine.connect() as c:
    got = pd.read_sql("select * from regional_overview", c)
same_frames(got.sort_values(keys, na_position="first").reset_index(drop=True),
            ro.sort_values(keys, na_position="first").reset_index(drop=True), "regional_overview")
pub = pq.read_table(current / "published" / "regional_overview.parquet").to_pandas()
with engine.connect() as c:
    got = pd.read_sql("select * from published.regional_overview", c)
same_frames(got.sort_values(keys, na_position="first").reset_index(drop=True),
            pub.sort_values(keys, na_position="first").reset_index(drop=True), "published.regional_overview")
print(f"pandas.read_sql: regional_overview ({len(ro)} rows) and published.regional_overview equal pyarrow's")
