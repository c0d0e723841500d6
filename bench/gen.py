#!/usr/bin/env python3
"""Seeded generator of large synthetic municipal participant exports for the benchmarks (bench/README.md).

Everything is SYNTHETIC: personnummer are computed at run time from a bijection of a row counter (valid Luhn
check digit, birth dates giving ages 18-64 in the project period), names and addresses are combinations of
the common names in sample-inputs/generate.py. No real person is described.

    gen.py exports --layout cp1252|utf8|xlsx --rows N [--files F] [--seed S] --project-id ID OUT
        OUT/input/         the export(s): one file, or F files of N/F rows spread over the ten kommuner
        OUT/pipelines/     <ID>.toml from bench/pipeline.toml.in (input_dir = ../input)
        OUT/layout.json    what the peers (bench/peers.py) need to read the files
        OUT/truth.json     ground truth: rows, bad rows per rule, and checksums over all rows (what a reader
                           that does not validate loads) and over the valid rows (what followup loads)
    gen.py enrolments --template DIR --rows N [--people P] [--seed S] OUT
        OUT/*.parquet      N enrolment_rows in parts of 1 M rows, columns and types as in the template parts
                           (a small followup run's <warehouse>/current/enrolment_rows), P distinct participants

Rows are made column-wise in numpy chunks and streamed to disk, so the size is limited by disk only.
About 0.5 % of the rows are bad (wrong check digit, impossible date, end before start) and must be rejected.
"""

import argparse
import datetime as dt
import functools
import json
import math
import sys
from pathlib import Path
from string import Template

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "sample-inputs"))
import generate as sample  # noqa: E402  (names, spellings and the Luhn digit of the sample-input generator)

D = dt.date
PERIOD_START, PERIOD_END, REPORT = D(2021, 1, 1), D(2026, 12, 31), D(2026, 6, 30)
WINDOW = (REPORT - PERIOD_START).days + 1  # start dates: period start .. report date
BIRTH_LO = D(REPORT.year - 65, REPORT.month, REPORT.day) + dt.timedelta(days=1)  # 64 at the report date
BIRTH_HI = D(PERIOD_START.year - 18, PERIOD_START.month, PERIOD_START.day)  # 18 at the period start
NB = (BIRTH_HI - BIRTH_LO).days + 1  # birth dates; NB * 998 serials bound the distinct people
EARLY = 60  # days before the period start that an end-before-start row may reach
NULL = -(1 << 30)  # an empty date cell (day numbers are relative to the period start)
MULT = 2_654_435_761  # a prime above any row count: i -> i * MULT mod P permutes 0..P-1
BAD_SHARE = 0.005
RULES = ["invalid_personnummer", "invalid_date", "end_before_start"]
CHUNK = 100_000

KOMMUNER = [  # sub-project id, kommunkod, weight (population in thousands, rounded)
    ("gavle", 2180, 103), ("sandviken", 2181, 40), ("hudiksvall", 2184, 37), ("bollnas", 2183, 26),
    ("soderhamn", 2182, 25), ("ljusdal", 2161, 19), ("ovanaker", 2121, 11), ("hofors", 2104, 9),
    ("nordanstig", 2132, 9), ("ockelbo", 2101, 6),
]
EXIT = {"Arbete": 22, "Anställning": 8, "Lönebidrag": 6, "Nystartsjobb": 4, "Studier": 10, "Komvux": 5,
        "Arbetssökande": 14, "Inskriven på AF": 6, "Sjukskriven": 6, "Flyttat": 3, "Avbrott": 4, "": 12}
ACTIVITY = {"Kartläggning": 20, "Språkträning": 18, "Arbetsträning": 16, "Praktik": 12, "Matchning": 12,
            "Studie- och yrkesvägledning": 10, "Hälsoinsats": 8, "": 4}
LABOUR = {sample.LABOUR[k]: w for k, w in
          {"long_term_unemployed": 45, "unemployed": 20, "inactive": 30, "employed": 3, "unknown": 2}.items()}
FOREIGN = {sample.YES_NO[k]: w for k, w in {"yes": 45, "no": 52, "refused": 3}.items()}
DISABILITY = {sample.YES_NO[k]: w for k, w in {"yes": 15, "no": 82, "refused": 3}.items()}
EDUCATION = {sample.EDU[k]: w for k, w in {"isced_0_2": 55, "isced_3_4": 30, "isced_5_8": 8, "unknown": 7}.items()}
COMMENTS = {"": 96, '"Byter handläggare i maj, åter i juni"': 2, "Tolk behövs": 1, '"Deltar 50 %, sjukskriven 50 %"': 1}

# Layouts in the style of sample-inputs (Söderhamn's Excel CSV, Hudiksvall's UTF-8 export, an xlsx with a
# title). cols: (header, field, canonical field or None when the pipeline leaves the column unmapped).
LAYOUTS = {
    "cp1252": dict(fmt="csv", ext="csv", encoding="cp1252", bom=False, delimiter=";", decimal=",",
                   date="%Y-%m-%d", newline="\r\n", cols=[
                       ("Personnr", "pnr", "personnummer"), ("Förnamn", "first", None), ("Efternamn", "last", None),
                       ("Adress", "address", None), ("Kön", "gender", "gender"), ("Kommunkod", "kommun", "municipality_code"),
                       ("Startdatum", "start", "start_date"), ("Slutdatum", "end", "end_date"),
                       ("Avslutsorsak", "reason", "exit_reason"), ("Aktivitet", "activity", "activity_type"),
                       ("Utrikes född", "foreign", "foreign_born"), ("Funktionsnedsättning", "disability", "disability"),
                       ("Arbetsmarknadsstatus", "labour", "labour_status"), ("Timmar", "hours", "hours")]),
    "utf8": dict(fmt="csv", ext="csv", encoding="utf-8", bom=True, delimiter=",", decimal=".", date="%Y%m%d",
                 newline="\n", cols=[
                     ("Personnummer", "pnr", "personnummer"), ("Kon", "gender_km", "gender"),
                     ("Kommunkod", "kommun", "municipality_code"), ("Inskrivningsdatum", "start", "start_date"),
                     ("Avslutsdatum", "end", "end_date"), ("Avslutsorsak", "reason", "exit_reason"),
                     ("Aktivitet", "activity", "activity_type"), ("Utrikes född", "foreign", "foreign_born"),
                     ("Funktionsnedsättning", "disability", "disability"), ("Utbildning", "education", "education_level"),
                     ("Timmar", "hours", "hours"), ("Kommentar", "comment", None), ("Adress", "address", None)]),
    "xlsx": dict(fmt="xlsx", ext="xlsx", sheet="Deltagare", header_row=3, date="%Y-%m-%d", cols=[
        ("Personnummer", "pnr", "personnummer"), ("Namn", "name", None), ("Kön", "gender", "gender"),
        ("Kommunkod", "kommun", "municipality_code"), ("Startdatum", "start", "start_date"),
        ("Slutdatum", "end", "end_date"), ("Avslutsorsak", "reason", "exit_reason"),
        ("Aktivitet", "activity", "activity_type"), ("Utrikes född", "foreign", "foreign_born"),
        ("Funktionsnedsättning", "disability", "disability"), ("Arbetsmarknadsstatus", "labour", "labour_status"),
        ("Timmar", "hours", "hours")]),
}


def strings(items) -> np.ndarray:
    return np.array(list(items), dtype=object)


def lut(weights: dict, size: int = 1000) -> np.ndarray:
    """A lookup table in which each key fills a share of the slots equal to its weight."""
    total = sum(weights.values())
    out = []
    for key, w in weights.items():
        out += [key] * round(size * w / total)
    return strings(out)


# Lookup tables: every text a row can hold is made once; rows are index arrays into these.
BIRTHS = [BIRTH_LO + dt.timedelta(days=b) for b in range(NB)]
YMD = [[f"{d:%Y%m%d}" for d in BIRTHS], [f"{d.year:04d}{d.month:02d}{d.day + 60:02d}" for d in BIRTHS]]
BIRTH_LUHN = np.array([(10 - sample.luhn_digit(x[2:] + "000")) % 10 for half in YMD for x in half])  # partial sums
SERIAL_LUHN = np.array([(10 - sample.luhn_digit("000000" + f"{n:03d}")) % 10 for n in range(1000)])
PREFIX = strings(p for style in ("{0}-", "{1}-", "{0}", "{1}") for half in YMD  # 19850312-, 850312-, …
                 for p in (style.format(x, x[2:]) for x in half))
SUFFIX = strings(f"{n:04d}" for n in range(10000))  # serial and check digit
DAYS = [PERIOD_START + dt.timedelta(days=i - EARLY) for i in range(EARLY + (PERIOD_END - PERIOD_START).days + 1)]
DAY_YEAR = np.array([d.year for d in DAYS])
KOMMUN_LUT = lut({i: w for i, (_, _, w) in enumerate(KOMMUNER)}).astype(np.int64)
KOMMUN_CODE = np.array([code for _, code, _ in KOMMUNER])
FIRST_W, FIRST_M, LAST = strings(sample.FIRST_W), strings(sample.FIRST_M), strings(sample.LAST)
ADDRESS = strings(f"{s} {n}" for s in sample.STREETS for n in range(1, 61))
GENDER = strings(["Man", "Kvinna"])
GENDER_KM = strings(["M", "K"])
TABLES = {name: lut(w) for name, w in [("reason", EXIT), ("activity", ACTIVITY), ("labour", LABOUR),
                                        ("foreign", FOREIGN), ("disability", DISABILITY),
                                        ("education", EDUCATION), ("comment", COMMENTS)]}


class Stream:
    """Row i of a data set of `rows` rows, computed from i and the seed alone.

    Person k (a bijection onto birth date and serial) enrols once or a few times: row i is stint i // P of
    person perm(i % P), with start dates spread so that a person's stints never share a start date, hence
    no (sub-project, personnummer, start date) repeats within a file.
    """

    def __init__(self, rows: int, seed: int):
        self.seed = seed
        self.people = max(1, min(rows, math.ceil(rows * 0.8), NB * 998))
        self.stints = math.ceil(rows / self.people)

    def chunk(self, i0: int, n: int, kommun: int | None = None) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, i0])
        i = np.arange(i0, i0 + n, dtype=np.int64)
        s, r = np.divmod(i, self.people)
        k = (r * MULT + 12_345) % self.people
        b, j = k % NB, k // NB
        serial = 1 + (j * 379 + b * 17) % 998  # 379 is prime to 998: distinct serials per birth date
        half = (k % 199 == 0).astype(np.int64)  # samordningsnummer: day + 60
        u = rng.random(n)
        kind = np.where(u < BAD_SHARE, 1 + (u / BAD_SHARE * 3).astype(np.int64), 0)
        check = (10 - (BIRTH_LUHN[b + NB * half] + SERIAL_LUHN[serial]) % 10) % 10
        check = np.where(kind == 1, (check + 3) % 10, check)
        woman = (serial % 2 == 0).astype(np.int64)
        start = (k * MULT % WINDOW + s * (WINDOW // self.stints)) % WINDOW
        end = start + rng.integers(14, 730, n)
        end = np.where(end >= WINDOW, NULL, end)  # still going at the report date
        end = np.where(kind == 3, start - rng.integers(1, EARLY + 1, n), end)
        hours = np.where(rng.random(n) < 0.05, np.nan, rng.integers(0, 1201, n) / 2)
        pick = {name: t[rng.integers(0, len(t), n)] for name, t in TABLES.items()}
        return dict(
            kind=kind, start=np.where(kind == 2, NULL, start), end=end, hours=hours, year=DAY_YEAR[start + EARLY],
            pnr=PREFIX[(k // 7 % 4) * 2 * NB + half * NB + b] + SUFFIX[serial * 10 + check],
            first=np.where(woman == 1, FIRST_W[k * 31 % len(FIRST_W)], FIRST_M[k * 31 % len(FIRST_M)]),
            last=LAST[k * 37 % len(LAST)], address=ADDRESS[k * 43 % len(ADDRESS)],
            gender=GENDER[woman], gender_km=GENDER_KM[woman],
            kommun=np.full(n, kommun) if kommun is not None else KOMMUN_LUT[k * 48_271 % len(KOMMUN_LUT)],
            reason=np.where(end != NULL, pick["reason"], ""),
            foreign=TABLES["foreign"][k * 53 % 1000], disability=TABLES["disability"][k * 59 % 1000],
            education=TABLES["education"][k * 61 % 1000],
            **{f: pick[f] for f in ("activity", "labour", "comment")},
        )


class Truth:
    """Checksums over all rows and over the valid rows, in the terms bench.py measures the outputs."""

    def __init__(self):
        self.rows = 0
        self.bad = dict.fromkeys(RULES, 0)
        self.sums = {"all": self.zero(), "valid": self.zero()}

    @staticmethod
    def zero():
        return {"rows": 0, "hours": 0.0, "start_nonnull": 0, "start_days": 0, "end_nonnull": 0}

    def add(self, c):
        day0 = (PERIOD_START - D(1970, 1, 1)).days
        self.rows += len(c["kind"])
        for n, rule in enumerate(RULES, start=1):
            self.bad[rule] += int((c["kind"] == n).sum())
        for name, m in (("all", np.ones(len(c["kind"]), bool)), ("valid", c["kind"] == 0)):
            t, st = self.sums[name], c["start"][m]
            t["rows"] += int(m.sum())
            t["hours"] += float(np.nansum(c["hours"][m]))
            t["start_nonnull"] += int((st != NULL).sum())
            t["start_days"] += int((st[st != NULL] + day0).sum())
            t["end_nonnull"] += int((c["end"][m] != NULL).sum())

    def json(self):
        return {"rows": self.rows, "bad": self.bad, **self.sums}


def bad_date(fmt: str, year) -> str:
    """An impossible date (30 February) written in a layout's date format."""
    return fmt.replace("%Y", str(year)).replace("%m", "02").replace("%d", "30")


@functools.cache
def date_table(fmt: str) -> np.ndarray:
    """Day (index + EARLY) -> text; then "" (an empty cell); then 30 February of each year from 2000."""
    return strings([d.strftime(fmt) for d in DAYS] + [""] + [bad_date(fmt, y) for y in range(2000, 2100)])


@functools.cache
def hours_table(decimal: str) -> np.ndarray:
    """Half hours 0..600 -> text; then "" (an empty cell)."""
    return strings([f"{h / 2:g}".replace(".", decimal) for h in range(1201)] + [""])


def csv_text(lay: dict, c: dict) -> str:
    dates, blank = date_table(lay["date"]), len(DAYS)
    cols = {
        "start": dates[np.where(c["kind"] == 2, blank + 1 + c["year"] - 2000, c["start"] + EARLY)],
        "end": dates[np.where(c["end"] == NULL, blank, c["end"] + EARLY)],
        "hours": hours_table(lay["decimal"])[np.where(np.isnan(c["hours"]), 1201, np.nan_to_num(c["hours"]) * 2)
                                             .astype(np.int64)],
        "kommun": KOMMUN_CODE.astype(str).astype(object)[c["kommun"]],
    }
    columns = [cols.get(f, c.get(f)) for _, f, _ in lay["cols"]]
    nl = lay["newline"]
    return nl.join(map(lay["delimiter"].join, zip(*(x.tolist() for x in columns)))) + nl


def write_csv(lay: dict, path: Path, stream: Stream, ranges, kommun, truth: Truth):
    with open(path, "wb") as f:
        f.write((b"\xef\xbb\xbf" if lay["bom"] else b"") +
                (lay["delimiter"].join(h for h, _, _ in lay["cols"]) + lay["newline"]).encode(lay["encoding"]))
        for i0, n in ranges:
            c = stream.chunk(i0, n, kommun)
            truth.add(c)
            f.write(csv_text(lay, c).encode(lay["encoding"]))


def write_xlsx(lay: dict, path: Path, stream: Stream, ranges, kommun, truth: Truth):
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    wb.set_properties({"author": "followup benchmark (synthetic data)", "created": dt.datetime(2026, 6, 30)})
    ws = wb.add_worksheet(lay["sheet"])
    bold, datefmt = wb.add_format({"bold": True}), wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_string(0, 0, "Deltagarförteckning – syntetiska testdata", bold)
    ws.write_row(lay["header_row"] - 1, 0, [h for h, _, _ in lay["cols"]], bold)
    serial0 = (PERIOD_START - sample.EXCEL_EPOCH).days
    fields = [f for _, f, _ in lay["cols"]]
    row = lay["header_row"]
    for i0, n in ranges:
        c = stream.chunk(i0, n, kommun)
        truth.add(c)
        c["name"] = c["first"] + " " + c["last"]
        c["kommun"] = KOMMUN_CODE[c["kommun"]]
        cols = [c[f].tolist() for f in fields]
        for vals, kind, year in zip(zip(*cols), c["kind"].tolist(), c["year"].tolist()):
            for col, (f, v) in enumerate(zip(fields, vals)):
                if f in ("start", "end"):
                    if f == "start" and kind == 2:
                        ws.write_string(row, col, bad_date(lay["date"], year))
                    elif v != NULL:
                        ws.write_number(row, col, serial0 + v, datefmt)
                elif f == "hours":
                    if v == v:  # not NaN
                        ws.write_number(row, col, v)
                elif f == "kommun":
                    ws.write_number(row, col, v)
                elif v:
                    ws.write_string(row, col, v)
            row += 1
    wb.close()


def pipeline_toml(lay: dict, project_id: str, sources: list[tuple[str, str | None, str]]) -> str:
    """The pipeline: the shared template plus one [[sources]] block per (id, sub-project, glob)."""
    blocks = []
    for sid, sub, glob in sources:
        lines = ["", "[[sources]]", f'id = "{sid}"'] + ([f'subproject = "{sub}"'] if sub else [])
        lines.append(f'files = ["{glob}"]')
        if lay["fmt"] == "csv":
            enc = "windows-1252" if lay["encoding"] == "cp1252" else "auto"
            lines += [f'encoding = "{enc}"', f'delimiter = "{lay["delimiter"]}"',
                      f"decimal_comma = {str(lay['decimal'] == ',').lower()}", f'date_formats = ["{lay["date"]}"]']
        else:
            lines += [f'sheet = "{lay["sheet"]}"', f"header_row = {lay['header_row']}"]
        lines += [f'export_date = {{ from = "fixed", date = {REPORT} }}', "", "[sources.columns]"]
        lines += [f'{canon} = "{h}"' for h, _, canon in lay["cols"]
                  if canon and not (sub and canon == "municipality_code")]
        blocks.append("\n".join(lines))
    template = Template((HERE / "pipeline.toml.in").read_text(encoding="utf-8"))
    return template.substitute(project_id=project_id, period_start=PERIOD_START, period_end=PERIOD_END,
                               report_date=REPORT, input_dir="../input", sources="\n".join(blocks))


def exports(args):
    lay = LAYOUTS[args.layout]
    out = args.out
    (out / "input").mkdir(parents=True)
    (out / "pipelines").mkdir()
    stream, truth = Stream(args.rows, args.seed), Truth()
    write = write_csv if lay["fmt"] == "csv" else write_xlsx
    if args.files == 1:
        name = f"deltagare_{REPORT:%Y-%m-%d}.{lay['ext']}"
        ranges = [(i0, min(CHUNK, args.rows - i0)) for i0 in range(0, args.rows, CHUNK)]
        write(lay, out / "input" / name, stream, ranges, None, truth)
        sources, glob = [("export", None, name)], name
    else:  # one export per file, the kommuner taking turns; each kommun is one source
        per = args.rows // args.files
        for f in range(args.files):
            kommun = f % len(KOMMUNER)
            path = out / "input" / f"{KOMMUNER[kommun][0]}_deltagarlista_{f // len(KOMMUNER) + 1:04d}.{lay['ext']}"
            write(lay, path, stream, [(f * per, per)], kommun, truth)
        used = sorted({f % len(KOMMUNER) for f in range(args.files)})
        sources = [(KOMMUNER[k][0], KOMMUNER[k][0], f"{KOMMUNER[k][0]}_deltagarlista_*.{lay['ext']}") for k in used]
        glob = f"*.{lay['ext']}"
    (out / "pipelines" / f"{args.project_id}.toml").write_text(pipeline_toml(lay, args.project_id, sources),
                                                             encoding="utf-8")
    by_field = {f: h for h, f, _ in lay["cols"]}
    layout = {k: v for k, v in lay.items() if k not in ("cols", "newline")}
    layout.update(files=glob, columns=[h for h, _, _ in lay["cols"]],
                  start=by_field["start"], end=by_field["end"], hours=by_field["hours"])
    (out / "layout.json").write_text(json.dumps(layout, indent=1, ensure_ascii=False), encoding="utf-8")
    (out / "truth.json").write_text(json.dumps(truth.json(), indent=1), encoding="utf-8")
    print(json.dumps(truth.json()))


def enrolments(args):
    """Scale a small run's enrolment_rows up to --rows rows of --people distinct participants, and with
    --activities write an activity log for them (0.4 activities per enrolment)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tpl = pq.read_table(sorted(args.template.glob("*.parquet")))
    schema = tpl.schema
    rng = np.random.default_rng(args.seed)
    ids = rng.integers(0, 2**63, size=(args.people, 2), dtype=np.int64)  # 128-bit pseudonyms, hex below
    person = np.concatenate([np.arange(args.people), rng.integers(0, args.people, args.rows - args.people)])
    rng.shuffle(person)
    day0 = (PERIOD_START - D(1970, 1, 1)).days
    args.out.mkdir(parents=True)
    activities_out, activities, schema_a = args.activities, 0, None
    if activities_out:
        # The activity log's schema from the template run's (empty) activity_rows.
        schema_a = pq.read_schema(sorted(args.activity_template.glob("*.parquet"))[0])
        activities_out.mkdir(parents=True)
    part_rows = 1_000_000
    for p, i0 in enumerate(range(0, args.rows, part_rows)):
        who = person[i0:i0 + part_rows]
        n = len(who)
        t = tpl.take(pa.array(rng.integers(0, len(tpl), n)))
        hexed = ids[who].tobytes().hex()
        start = day0 + rng.integers(0, WINDOW, n)
        span = pc.subtract(t["end_date"].cast(pa.int32()), t["start_date"].cast(pa.int32())).to_numpy(zero_copy_only=False)
        ended = ~np.isnan(span.astype(float))
        end = np.minimum(start + np.nan_to_num(span).astype(np.int64), day0 + (PERIOD_END - PERIOD_START).days)
        cols = {
            "participant_id": pa.array([hexed[x:x + 32] for x in range(0, 32 * n, 32)]),
            "gender": pa.array(np.where(who % 2 == 0, "woman", "man")),
            "gender_mismatch": pa.array(np.zeros(n, bool)),
            "start_date": pa.array(start.astype(np.int32)).cast(pa.date32()),
            "end_date": pa.array(end.astype(np.int32), mask=~ended).cast(pa.date32()),
            "source_file": pa.array(np.full(n, f"bench_e/part-{p:03d}.csv")),
            "source_row": pa.array(np.arange(2, n + 2)),
        }
        arrays = [cols[f.name].cast(f.type) if f.name in cols else t[f.name] for f in schema]
        pq.write_table(pa.Table.from_arrays(arrays, schema=schema), args.out / f"part-{p:03d}.parquet",
                       compression="zstd")
        if activities_out:
            activities += write_activities(rng, schema_a, t, cols, start, p, activities_out)
    print(json.dumps({"rows": args.rows, "people": args.people, "parts": p + 1, "activities": activities}))


PATH_STEPS = np.array(["mapping", "language", "adult_education", "vocational_training", "work_training",
                       "matching", "employment"])


def write_activities(rng, schema, t, cols, start, part: int, out: Path) -> int:
    """An activity log for one part of the enrolments: 0, 1 or 2 activities per enrolment (0.4 on average),
    each a step of the path, starting within its enrolment's first months; a tenth are ongoing."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    per = rng.choice(3, size=len(start), p=[0.7, 0.2, 0.1])
    which = np.repeat(np.arange(len(start)), per)
    k = np.arange(len(which)) - np.repeat(np.cumsum(per) - per, per)  # 0, 1 within an enrolment
    n = len(which)
    begin = start[which] + 45 * k + rng.integers(0, 30, n)
    ongoing = rng.random(n) < 0.1
    end = begin + rng.integers(10, 120, n)
    take = pa.array(which)
    acts = {
        "project_id": t["project_id"].take(take),
        "subproject_id": t["subproject_id"].take(take),
        "municipality_code": t["municipality_code"].take(take),
        "participant_id": cols["participant_id"].take(take),
        "activity_type": pa.array(PATH_STEPS[rng.integers(0, len(PATH_STEPS), n)]),
        "activity_raw": pa.array(np.full(n, "aktivitet")),
        "provider": pa.array(np.char.add("Anordnare ", rng.integers(1, 40, n).astype(str))),
        "start_date": pa.array(begin.astype(np.int32)).cast(pa.date32()),
        "end_date": pa.array(end.astype(np.int32), mask=ongoing).cast(pa.date32()),
        "hours": pa.array(np.round(rng.random(n) * 80, 1)),
        "export_date": t["export_date"].take(take),
        "source_file": pa.array(np.full(n, f"bench_e/activities-{part:03d}.csv")),
        "source_sheet": pa.nulls(n, pa.string()),
        "source_row": pa.array(np.arange(2, n + 2)),
        "load_id": t["load_id"].take(take),
    }
    arrays = [acts[f.name].cast(f.type) for f in schema]
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), out / f"part-{part:03d}.parquet",
                   compression="zstd")
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("exports", help="municipal export files, their pipeline and ground truth")
    e.add_argument("--layout", choices=LAYOUTS, required=True)
    e.add_argument("--rows", type=int, required=True)
    e.add_argument("--files", type=int, default=1)
    e.add_argument("--project-id", required=True)
    e.add_argument("out", type=Path)
    s = sub.add_parser("enrolments", help="scale a small run's enrolment_rows up")
    s.add_argument("--template", type=Path, required=True, help="folder of enrolment_rows parts")
    s.add_argument("--rows", type=int, required=True)
    s.add_argument("--people", type=int, help="distinct participants (default 70 %% of --rows)")
    s.add_argument("--activities", type=Path, help="also write an activity log (activity_rows) here")
    s.add_argument("--activity-template", type=Path, help="folder of activity_rows parts (for the schema)")
    s.add_argument("out", type=Path)
    for p in (e, s):
        p.add_argument("--seed", type=int, default=20260630)
    args = ap.parse_args(argv)
    if args.cmd == "exports":
        if args.rows < args.files:
            ap.error("--rows must be at least --files")
        exports(args)
    else:
        if args.activities and not args.activity_template:
            ap.error("--activities needs --activity-template")
        args.people = args.people or max(1, args.rows * 7 // 10)
        enrolments(args)


if __name__ == "__main__":
    main()
