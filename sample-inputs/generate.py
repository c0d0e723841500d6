#!/usr/bin/env python3
"""Generate the synthetic sample inputs of followup's five bundled ESF projects.

Everything written here is SYNTHETIC: the personnummer are made-up numbers with a valid check digit, the
names, addresses and phone numbers are random combinations of common names. No real person is described.

What it writes, per project, into ``<out>/<project_id>/``:
  * participant lists in the municipalities' own layouts (xlsx, xls, ods, CSV in Windows-1252 or UTF-8,
    tab-separated text), including a few deliberate errors each;
  * ``EXPECTED.json``: per-file row counts, rejects per rule, the overview figures at the project's report
    date and the content of the marts esf_indicators, target_followup, monthly_active, method_outcomes,
    pathway_steps and pathway_transitions, computed from the generator's own ground truth (the records behind
    the rows that load) as docs/semantics.md and the marts' descriptions define them;
  * ``README.md``: the layouts, and every deliberate error with its file, row and rule.

The layouts must agree with ``pipelines/<project_id>.toml`` (hand-written): after writing, the generator
checks every file against its pipeline with an independent Python reading of docs/semantics.md (header
detection, row classification, every reject rule) and, when python-calamine is installed, reads every
workbook back with calamine (the engine the Rust code uses) to confirm the files hold what the model says.

Install and run (Python 3.11+), from the repository root:

    python3 -m venv .venv-gen
    .venv-gen/bin/pip install -r sample-inputs/requirements.txt
    .venv-gen/bin/python sample-inputs/generate.py                 # writes into sample-inputs/
    .venv-gen/bin/python sample-inputs/generate.py --scale 10 --out /tmp/big-inputs

``--scale N`` multiplies the participant counts (the deliberate errors stay as they are). ``--out DIR``
defaults to the folder of this script. ``--no-check`` skips the pipeline and read-back checks (needed when
--out is not next to ../pipelines, or the pipelines are being edited). The output is byte-for-byte the same
on every run with the pinned library versions: the random generator is seeded, workbook properties are
fixed and zip entries get a fixed time stamp.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import fnmatch
import io
import json
import re
import random
import statistics
import sys
import tomllib
import unicodedata
import zipfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

D = dt.date
SEED = "followup-sample-inputs-v1"
ZIP_TIME = (2024, 1, 1, 0, 0, 0)
EXCEL_EPOCH = D(1899, 12, 30)

# ---------------------------------------------------------------------------------------------------------
# Identity numbers


def luhn_digit(nine: str) -> int:
    """Check digit over YYMMDDNNN, weights 2,1,2,… (DOMAIN.md §3)."""
    total = 0
    for i, ch in enumerate(nine):
        p = int(ch) * (2 if i % 2 == 0 else 1)
        total += p // 10 + p % 10
    return (10 - total % 10) % 10


def age_at(birth: D, at: D) -> int:
    years = at.year - birth.year
    if (at.month, at.day) < (birth.month, birth.day):
        years -= 1
    return years


FIRST_W = [
    "Anna", "Maria", "Sara", "Fatima", "Amina", "Ayan", "Hodan", "Lina", "Noor", "Zahra", "Eva", "Karin",
    "Elin", "Malin", "Sofia", "Hanna", "Leila", "Mariam", "Aisha", "Samira", "Helen", "Rahel", "Senait",
    "Dilan", "Shirin", "Nasrin", "Jelena", "Agnieszka", "Olga", "Birgitta", "Kristina", "Emma", "Ida",
    "Johanna", "Yasmin", "Huda", "Rukia", "Asha", "Nimo", "Khadija", "Linnéa", "Ebba", "Märta",
]
FIRST_M = [
    "Ahmed", "Mohammed", "Ali", "Omar", "Hassan", "Abdi", "Yonas", "Erik", "Lars", "Johan", "Anders",
    "Mikael", "Per", "Karl", "Daniel", "Jonas", "Mustafa", "Ibrahim", "Yusuf", "Samir", "Tesfay", "Dawit",
    "Bilal", "Karim", "Hamid", "Reza", "Tomasz", "Piotr", "Nils", "Magnus", "Oskar", "Mattias",
    "Abdullahi", "Farah", "Goran", "Emil", "Fredrik", "Hussein", "Jamal", "Kebede", "Björn", "Göran",
]
LAST = [
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
    "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Lindqvist", "Berg", "Sandberg",
    "Hassan", "Mohamed", "Ali", "Abdullahi", "Ahmed", "Yusuf", "Osman", "Haile", "Tesfaye", "Gebremedhin",
    "Rahimi", "Hosseini", "Karimi", "Nowak", "Kowalski", "Öberg", "Åberg", "Ström", "Sjöberg", "Hedlund",
    "Holm", "Forsberg", "Nyström", "Bergström", "Wikström", "Åkesson",
]
STREETS = [
    "Storgatan", "Kyrkogatan", "Järnvägsgatan", "Skolgatan", "Parkvägen", "Björkvägen", "Tallvägen",
    "Åsvägen", "Norra Esplanaden", "Södra vägen", "Ringvägen", "Hamngatan", "Smedjegatan", "Ängsvägen",
]
COUNTRIES = ["Syrien", "Somalia", "Eritrea", "Afghanistan", "Irak", "Etiopien", "Thailand", "Polen", "Iran",
             "Sudan"]


@dataclass(frozen=True)
class Person:
    pnr: str  # canonical 12 characters: YYYYMMDDNNNC (day + 60 for samordningsnummer) or YYYYMMDDTFNN
    birth: D
    woman: bool
    kind: str  # personnummer | samordningsnummer | protected_identity
    first: str
    last: str


class People:
    """Makes unique synthetic people for one project."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def new(self, woman: bool, birth: D, kind: str = "personnummer") -> Person:
        rng = self.rng
        first = rng.choice(FIRST_W if woman else FIRST_M)
        last = rng.choice(LAST)
        while True:
            if kind == "protected_identity":
                g = rng.choice("2468" if woman else "1357")
                pnr = f"{birth:%Y%m%d}TF{g}{rng.randint(0, 9)}"
            else:
                serial = rng.randint(1, 998)
                if serial % 2 != (0 if woman else 1):
                    serial += 1
                day = birth.day + (60 if kind == "samordningsnummer" else 0)
                nine = f"{birth.year % 100:02d}{birth.month:02d}{day:02d}{serial:03d}"
                pnr = f"{birth.year:04d}{nine[2:]}{luhn_digit(nine)}"
            if pnr not in self.used:
                self.used.add(pnr)
                return Person(pnr, birth, woman, kind, first, last)

    def birth_for(self, starts: list[D], lo: int = 18, hi: int = 64, mode: float = 33) -> D:
        """A birth date giving an age in [lo, hi] at every start (the age itself drawn around `mode`)."""
        rng = self.rng
        while True:
            a = int(rng.triangular(lo, hi + 1, mode))
            b = D(starts[0].year - a - 1, 1, 1) + dt.timedelta(days=rng.randint(0, 729))
            if all(lo <= age_at(b, s) <= hi for s in starts):
                return b

    def person(self, woman: bool, starts: list[D], kind: str = "personnummer") -> Person:
        return self.new(woman, self.birth_for(starts), kind)


def birth_aged(rng: random.Random, start: D, age: int) -> D:
    """A birth date giving exactly `age` whole years at `start` (for the deliberate age errors)."""
    b = D(start.year - age - 1, start.month, min(start.day, 28)) + dt.timedelta(days=rng.randint(10, 330))
    assert age_at(b, start) == age
    return b


def pnr_text(p: Person, style: str) -> str:
    """The number as a municipality's system writes it."""
    c = p.pnr
    if p.kind == "protected_identity":
        return c
    return {
        "long_dash": f"{c[:8]}-{c[8:]}",      # 19850312-1234
        "short_dash": f"{c[2:8]}-{c[8:]}",    # 850312-1234
        "long": c,                            # 198503121234
        "short": c[2:],                       # 8503121234
        "space_mid": f"{c[:8]} {c[8:]}",      # 19850312 1234 (a space where the dash should be)
        "space_dash": f"{c[:8]} -{c[8:]}",    # 19850312 -1234
        "trail": f"{c[:8]}-{c[8:]} ",         # trailing blank copied from another system
        "short_space": f"{c[2:8]}- {c[8:]}",  # 850312- 1234
    }[style]


def bad_luhn(text: str) -> str:
    """The same written number with a wrong check digit (a typo in the last digit)."""
    i = max(i for i, ch in enumerate(text) if ch.isdigit())
    return text[:i] + str((int(text[i]) + 3) % 10) + text[i + 1:]


def sci_notation(p: Person) -> str:
    """What Swedish Excel shows (and saves to CSV) for a 12-digit number in General format."""
    mant = f"{int(p.pnr) / 1e11:.5f}".rstrip("0").rstrip(".")
    return mant.replace(".", ",") + "E+11"


def pick(key: str, options):
    """A stable choice: the same person and field get the same spelling in every export."""
    if isinstance(options, str):
        return options
    return options[zlib.crc32(key.encode("utf-8")) % len(options)]


def weighted(rng: random.Random, table: dict):
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys])[0]


# ---------------------------------------------------------------------------------------------------------
# Ground truth and the written model


@dataclass
class Enrol:
    """One enrolment as it really is (the ground truth)."""
    p: Person
    sub: str
    start: D
    end: D | None
    reason: str | None  # work | work_subsidised | studies | job_seeking | other | None
    a: dict = field(default_factory=dict)  # canonical attributes


@dataclass
class Rec:
    """What a loaded enrolment row says (a snapshot: monthly exports show what was known then)."""
    sub: str
    pnr: str
    woman: bool
    start: D
    end: D | None
    reason: str | None
    # Not part of what the row says: the enrolment it was rendered from and the layout's fields (which
    # attributes the file carries at all), for the entry characteristics behind the ESF indicators.
    e: Enrol | None = field(default=None, compare=False, repr=False)
    fields: tuple = field(default=(), compare=False, repr=False)


@dataclass
class ActRec:
    sub: str
    pnr: str
    activity_type: str
    provider: str
    start: D
    end: D | None
    hours: float


@dataclass
class Row:
    kind: str  # title | blank | header | data | total | empty_line (CSV only; not a record)
    cells: list
    rules: tuple = ()
    rec: Rec | ActRec | None = None
    note: str = ""  # README text: deliberate error or quirk


@dataclass
class SheetM:
    name: str
    rows: list
    widths: list | None = None
    merge_title: int = 0  # merge A1 across this many columns


@dataclass
class FileM:
    rel: str
    fmt: str  # xlsx | xls | ods | csv | html
    kind: str  # enrolments | activities
    export_date: D
    sheets: list
    read_sheet: str
    desc: str
    encoding: str = "utf-8"
    bom: bool = False
    delimiter: str = ","
    failed: bool = False

    def sheet(self) -> SheetM:
        return next(s for s in self.sheets if s.name == self.read_sheet)


@dataclass
class View:
    """One enrolment row to render: canonical values plus raw overrides for deliberate errors."""
    p: Person
    sub: str
    start: D
    end: D | None
    reason: str | None
    a: dict
    raw: dict = field(default_factory=dict)
    stated_woman: bool | None = None
    hours: float | None = None


class Layout:
    """A municipality's column layout and spellings.

    cols: (header, field) pairs. dates: "cell" (Excel date cells), "serial" (Excel serial numbers typed as
    plain numbers) or a strftime text format. hours: "number", "comma" (text, decimal comma) or "point".
    spell: field -> canonical value -> spelling or list of spellings (chosen per person, stably).
    """

    def __init__(self, cols, spell, dates="cell", hours="number", pnr_styles=("long_dash",), kommun=None):
        self.cols = cols
        self.spell = spell
        self.dates = dates
        self.hours = hours
        self.pnr_styles = pnr_styles
        self.kommun = kommun or {}

    @property
    def headers(self):
        return [h for h, _ in self.cols]

    def date(self, d):
        if d is None:
            return None
        if isinstance(d, str):
            return d
        if self.dates == "cell":
            return d
        if self.dates == "serial":
            return (d - EXCEL_EPOCH).days
        return d.strftime(self.dates)

    def num(self, h):
        if h is None:
            return None
        if self.hours == "number":
            return h
        s = f"{h:.2f}".rstrip("0").rstrip(".")
        return s.replace(".", ",") if self.hours == "comma" else s

    def render(self, v: View) -> list:
        p = v.p
        key = p.pnr + v.sub
        out = []
        for _, f in self.cols:
            if f in v.raw:
                out.append(v.raw[f])
                continue
            if f == "pnr":
                val = pnr_text(p, pick(key + "style", list(self.pnr_styles)))
            elif f == "first":
                val = p.first
            elif f == "last":
                val = p.last
            elif f == "name":
                val = f"{p.first} {p.last}"
            elif f == "name_rev":
                val = f"{p.last}, {p.first}"
            elif f == "address":
                n = zlib.crc32(key.encode()) % 60 + 1
                val = f"{pick(key + 'st', STREETS)} {n}"
            elif f == "phone":
                c = zlib.crc32((key + "tel").encode())
                val = f"07{'02369'[c % 5]}-{c % 900 + 100} {c % 89 + 10} {c % 83 + 11}"
            elif f == "gender":
                woman = p.woman if v.stated_woman is None else v.stated_woman
                val = pick(key + f, self.spell["gender"]["woman" if woman else "man"])
            elif f == "start":
                val = self.date(v.start)
            elif f == "end":
                val = self.date(v.end)
            elif f == "reason":
                val = None if v.reason is None else pick(key + f, self.spell["exit_reason"][v.reason])
            elif f == "hours":
                val = self.num(v.hours if v.hours is not None else v.a.get("hours"))
            elif f == "kommun":
                val = self.kommun[v.sub][0]
            elif f == "kommunkod":
                val = self.kommun[v.sub][1]
            elif f == "country":
                val = {"yes": v.a["country"], "no": "Sverige", "refused": "Vill ej uppge"}[v.a["foreign_born"]]
            elif f == "comment":
                val = v.a.get("comment", "")
            else:  # a value-mapped attribute
                val = pick(key + f, self.spell[f][v.a[f]])
            out.append(val)
        return out


def snapshot(e: Enrol, asof: D) -> tuple[D | None, str | None, float]:
    """End date, exit reason and hours as an export made on `asof` shows them."""
    if e.end is not None and e.end <= asof:
        return e.end, e.reason, e.a.get("hours")
    span = max(1, ((e.end or asof) - e.start).days)
    done = min(1.0, max(0.0, (asof - e.start).days / span))
    h = e.a.get("hours")
    return None, None, (None if h is None else round(h * done * 2) / 2)


class SheetBuilder:
    def __init__(self, layout: Layout | None = None):
        self.layout = layout
        self.rows: list[Row] = []

    def title(self, *cells):
        self.rows.append(Row("title", list(cells)))

    def blank(self, note=""):
        self.rows.append(Row("blank", [], note=note))

    def empty_line(self, note=""):
        self.rows.append(Row("empty_line", [], note=note))

    def header(self, headers=None):
        self.rows.append(Row("header", list(headers or self.layout.headers)))

    def total(self, *cells, note=""):
        self.rows.append(Row("total", list(cells), note=note))

    def enrol(self, e: Enrol, asof: D, note="", **over) -> Row:
        end, reason, hours = snapshot(e, asof)
        if not note and e.p.kind == "samordningsnummer":
            note = "samordningsnummer (birth day + 60): loads with id_kind samordningsnummer"
        v = View(e.p, e.sub, e.start, end, reason, e.a, hours=hours)
        for k, val in over.items():
            setattr(v, k, val)
        row = Row("data", self.layout.render(v),
                  rec=Rec(e.sub, e.p.pnr, e.p.woman, e.start, end, reason, e, tuple(f for _, f in self.layout.cols)),
                  note=note)
        self.rows.append(row)
        return row

    def error(self, v: View, rules, note) -> Row:
        row = Row("data", self.layout.render(v), rules=tuple(rules), note=note)
        self.rows.append(row)
        return row

    def duplicate(self, of: Row, note) -> Row:
        row = Row("data", list(of.cells), rules=("duplicate_row",), note=note)
        self.rows.append(row)
        return row


# ---------------------------------------------------------------------------------------------------------
# Writers


def normalised_zip(data: bytes, path: Path):
    """Rewrite a zip (xlsx, ods) with fixed entry times so the bytes do not change between runs."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            zi.compress_type = info.compress_type
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, src.read(info.filename))
    path.write_bytes(buf.getvalue())


def write_xlsx(f: FileM, path: Path):
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    wb.remove(wb.active)
    when = dt.datetime.combine(f.export_date, dt.time(8, 0))
    wb.properties.creator = "followup sample generator (synthetic data)"
    wb.properties.lastModifiedBy = "followup sample generator"
    wb.properties.title = f.rel
    wb.properties.created = when
    wb.properties.modified = when
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for sm in f.sheets:
        ws = wb.create_sheet(sm.name)
        for r, row in enumerate(sm.rows, start=1):
            for c, val in enumerate(row.cells, start=1):
                if val is None:
                    continue
                cell = ws.cell(row=r, column=c, value=val)
                if isinstance(val, D):
                    cell.number_format = "yyyy-mm-dd"
                elif isinstance(val, str) and re.fullmatch(r"[\d \-+]{10,15}", val):
                    cell.number_format = "@"  # identifiers stay text
                if row.kind == "header":
                    cell.font = bold
                    cell.fill = fill
                elif row.kind in ("title", "total") and c == 1:
                    cell.font = bold
        if sm.merge_title:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=sm.merge_title)
        for i, w in enumerate(sm.widths or [], start=1):
            ws.column_dimensions[_col(i)].width = w
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        ExcelWriter(wb, zf).save()  # save_workbook() would stamp "now" into docProps/core.xml
    normalised_zip(buf.getvalue(), path)


def _col(i: int) -> str:
    s = ""
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def write_xls(f: FileM, path: Path):
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    head_style = xlwt.easyxf("font: bold on; pattern: pattern solid, fore_colour pale_blue")
    bold = xlwt.easyxf("font: bold on")
    plain = xlwt.XFStyle()
    for sm in f.sheets:
        ws = wb.add_sheet(sm.name)
        for r, row in enumerate(sm.rows):
            for c, val in enumerate(row.cells):
                if val is None:
                    continue
                if isinstance(val, D):
                    ws.write(r, c, val, date_style)
                elif row.kind == "header":
                    ws.write(r, c, val, head_style)
                elif row.kind in ("title", "total") and c == 0:
                    ws.write(r, c, val, bold)
                else:
                    ws.write(r, c, val, plain)
        for i, w in enumerate(sm.widths or []):
            ws.col(i).width = int(w * 256)
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(buf.getvalue())


def write_ods(f: FileM, path: Path):
    from odf import meta
    from odf.number import DateStyle, Day, Month, Text as NText, Year
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import Style, TextProperties
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    doc.meta.addElement(meta.CreationDate(text=f"{f.export_date}T08:00:00"))
    doc.meta.addElement(meta.InitialCreator(text="followup sample generator (synthetic data)"))
    ds = DateStyle(name="isodate")
    ds.addElement(Year(style="long"))
    ds.addElement(NText(text="-"))
    ds.addElement(Month(style="long"))
    ds.addElement(NText(text="-"))
    ds.addElement(Day(style="long"))
    doc.automaticstyles.addElement(ds)
    date_cell = Style(name="datecell", family="table-cell", datastylename="isodate")
    doc.automaticstyles.addElement(date_cell)
    bold = Style(name="boldcell", family="table-cell")
    bold.addElement(TextProperties(fontweight="bold"))
    doc.automaticstyles.addElement(bold)
    for sm in f.sheets:
        t = Table(name=sm.name)
        for row in sm.rows:
            tr = TableRow()
            for val in row.cells:
                if val is None or val == "":
                    tr.addElement(TableCell())
                elif isinstance(val, D):
                    tc = TableCell(valuetype="date", datevalue=val.isoformat(), stylename=date_cell)
                    tc.addElement(P(text=val.isoformat()))
                    tr.addElement(tc)
                elif isinstance(val, (int, float)):
                    tc = TableCell(valuetype="float", value=repr(val))
                    tc.addElement(P(text=str(val).replace(".", ",")))
                    tr.addElement(tc)
                else:
                    kw = {"stylename": bold} if row.kind == "header" else {}
                    tc = TableCell(valuetype="string", **kw)
                    tc.addElement(P(text=val))
                    tr.addElement(tc)
            t.addElement(tr)
        doc.spreadsheet.addElement(t)
    buf = io.BytesIO()
    doc.write(buf)
    normalised_zip(buf.getvalue(), path)


def csv_text(f: FileM) -> tuple[str, list[int]]:
    """The file's text and, per model row, the line the record starts on (0 for empty lines)."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=f.delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    lines, line = [], 1
    for row in f.sheet().rows:
        if row.kind == "empty_line":
            out.write("\r\n")
            lines.append(0)
            line += 1
            continue
        cells = ["" if c is None else str(c) for c in row.cells]
        w.writerow(cells)
        lines.append(line)
        line += 1 + sum(c.count("\n") for c in cells)
    return out.getvalue(), lines


def write_csv(f: FileM, path: Path):
    text, _ = csv_text(f)
    data = text.encode(f.encoding)  # strict: Windows-1252 files must not hold anything it cannot encode
    if f.bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)


def write_html(f: FileM, path: Path):
    """A "web export" that is really HTML with an .xls name, as some case-management systems produce."""
    rows = f.sheet().rows
    body = "\n".join(
        "<tr>" + "".join(f"<td>{'' if c is None else c}</td>" for c in r.cells) + "</tr>" for r in rows)
    html = ("<html xmlns:x=\"urn:schemas-microsoft-com:office:excel\">\n<head><meta charset=\"utf-8\">"
            "<title>Deltagare</title></head>\n<body><table border=\"1\">\n" + body + "\n</table></body></html>\n")
    path.write_bytes(html.encode("utf-8"))


WRITERS = {"xlsx": write_xlsx, "xls": write_xls, "ods": write_ods, "csv": write_csv, "html": write_html}


def row_numbers(f: FileM) -> list[int]:
    """Excel row (1-based) or CSV line of each model row of the participant sheet."""
    if f.fmt == "csv":
        return csv_text(f)[1]
    return list(range(1, len(f.sheet().rows) + 1))


# ---------------------------------------------------------------------------------------------------------
# Shared spellings and attribute generators

GENDER_KM = {"woman": "K", "man": "M"}
GENDER_WORD = {"woman": "Kvinna", "man": "Man"}
GENDER_LOWER = {"woman": "k", "man": "m"}
GENDER_SCB = {"woman": "2", "man": "1"}
YES_NO = {"yes": "Ja", "no": "Nej", "refused": "Vill ej uppge", "unknown": "Okänd"}
YN_SHORT = {"yes": "J", "no": "N", "refused": "Vill ej uppge", "unknown": "Vet ej"}
EDU = {"isced_0_2": "Förgymnasial", "isced_3_4": "Gymnasial", "isced_5_8": "Eftergymnasial",
       "unknown": "Okänd"}
EDU_LONG = {"isced_0_2": ["Förgymnasial kortare än 9 år", "Förgymnasial 9 år"], "isced_3_4": "Gymnasial",
            "isced_5_8": ["Eftergymnasial kortare än 2 år", "Eftergymnasial 2 år eller längre"],
            "unknown": "Uppgift saknas"}
LABOUR = {"unemployed": "Arbetslös", "long_term_unemployed": "Långtidsarbetslös", "inactive": "Inaktiv",
          "employed": "Sysselsatt", "unknown": "Uppgift saknas"}


def attrs_common(rng: random.Random, activities: dict, fb: dict, dis: dict) -> dict:
    a = {
        "activity": weighted(rng, activities),
        "foreign_born": weighted(rng, fb),
        "disability": weighted(rng, dis),
        "education": weighted(rng, {"isced_0_2": 55, "isced_3_4": 30, "isced_5_8": 8, "unknown": 7}),
        "labour": weighted(rng, {"long_term_unemployed": 45, "unemployed": 20, "inactive": 33, "unknown": 2}),
        "hours": rng.randint(40, 900) / 2,
    }
    a["country"] = rng.choice(COUNTRIES)
    a["ltu"] = "yes" if a["labour"] == "long_term_unemployed" else "no"
    return a


def rand_date(rng: random.Random, lo: D, hi: D) -> D:
    return lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))


def place(rng: random.Random, rows: list, extra: list):
    """Insert extra rows at random places among data rows (not first, not last)."""
    for item in extra:
        i = rng.randint(1, max(1, len(rows) - 1))
        rows.insert(i, item)


# ---------------------------------------------------------------------------------------------------------
# Projects


@dataclass
class ProjectOut:
    pid: str
    name: str
    report_date: D
    subprojects: list  # (id, name, kommunkod)
    files: list
    truth: list  # Enrol (the real enrolments; for the README figures only)
    readme_intro: str
    assertions: list = field(default_factory=list)


def exit_or_active(rng, start: D, report: D, dmin: int, dmax: int, reasons: dict):
    end = start + dt.timedelta(days=rng.randint(dmin, dmax))
    if end > report:
        return None, None
    r = weighted(rng, reasons)
    return end, (None if r == "none" else r)


# --- 000 Nya eXtra stöd i Gävleborg -------------------------------------------------------------------


def project_000(scale: int) -> ProjectOut:
    pid = "gavleborg_nya_extra_stod"
    rng = random.Random(f"{SEED}-{pid}")
    people = People(rng)
    R = D(2022, 6, 30)
    subs = [("bollnas", "Bollnäs", "2183", 60), ("gavle", "Gävle", "2180", 151),
            ("hudiksvall", "Hudiksvall", "2184", 75), ("nordanstig", "Nordanstig", "2132", 36),
            ("ockelbo", "Ockelbo", "2101", 40), ("ovanaker", "Ovanåker", "2121", 40),
            ("sandviken", "Sandviken", "2181", 80), ("soderhamn", "Söderhamn", "2182", 66)]
    acts = {"language": 30, "labour_market_knowledge": 20, "civic_orientation": 12, "health": 14,
            "digital_skills": 12, "personal_finance": 7, "mapping": 5}
    reasons = {"work": 22, "work_subsidised": 9, "studies": 18, "job_seeking": 20, "other": 21, "none": 10}
    fb = {"yes": 72, "no": 25, "refused": 3}
    dis = {"yes": 22, "no": 74, "refused": 2, "unknown": 2}
    window = {s[0]: (D(2021, 1, 18), D(2022, 6, 17)) for s in subs}
    window["sandviken"] = (D(2021, 9, 1), D(2022, 6, 17))  # Sandviken's delprojekt started later

    truth: list[Enrol] = []
    # Three people moved between municipalities: an exit in the first ("Flyttat"/none), then a new start.
    moves = [("bollnas", "soderhamn"), ("gavle", "sandviken"), ("hudiksvall", "nordanstig")]
    for a_sub, b_sub in moves:
        s1 = rand_date(rng, D(2021, 2, 1), D(2021, 8, 31))
        e1 = s1 + dt.timedelta(days=rng.randint(60, 150))
        s2 = max(e1 + dt.timedelta(days=rng.randint(10, 50)), window[b_sub][0])
        p = people.person(rng.random() < 0.66, [s1, s2])
        truth.append(Enrol(p, a_sub, s1, e1, rng.choice(["other", None]),
                           attrs_common(rng, acts, fb, dis)))
        e2, r2 = exit_or_active(rng, s2, R, 60, 420, reasons)
        truth.append(Enrol(p, b_sub, s2, e2, r2, attrs_common(rng, acts, fb, dis)))
    for sid, _, _, n in subs:
        n = n * scale - sum(1 for m in moves if sid in m)
        for _ in range(n):
            s = rand_date(rng, *window[sid])
            p = people.person(rng.random() < 0.66, [s])
            end, reason = exit_or_active(rng, s, R, 45, 420, reasons)
            truth.append(Enrol(p, sid, s, end, reason, attrs_common(rng, acts, fb, dis)))
    # Two participants with samordningsnummer (never folkbokförda when they started).
    movers = {e.p.pnr for e in truth[:2 * len(moves)]}
    for e in rng.sample([e for e in truth if e.sub in ("gavle", "ockelbo") and e.p.pnr not in movers], 2):
        idx = truth.index(e)
        sp = people.new(e.p.woman, e.p.birth, "samordningsnummer")
        truth[idx] = Enrol(sp, e.sub, e.start, e.end, e.reason, e.a)
    by_sub = defaultdict(list)
    for e in sorted(truth, key=lambda e: (e.start, e.p.pnr)):
        by_sub[e.sub].append(e)

    def extra_person(sub, woman=True, start=None, age=None):
        s = start or rand_date(rng, *window[sub])
        if age is None:
            p = people.person(woman, [s])
        else:
            p = people.new(woman, birth_aged(rng, s, age))
        return p, s

    files = []
    act_sv = {"language": ["Språkträning", "Språkcafé"], "labour_market_knowledge": "Arbetsmarknadskunskap",
              "civic_orientation": "Samhällskunskap", "health": "Friskvård och hälsa",
              "digital_skills": "IT-kunskap", "personal_finance": "Ekonomikunskap", "mapping": "Kartläggning"}
    reason_std = {"work": "Arbete", "work_subsidised": "Anställning med stöd", "studies": "Studier",
                  "job_seeking": "Arbetssökande", "other": ["Annat", "Avbrott"]}

    # Bollnäs: xlsx, title rows, the export date in B2, a blank row in the middle, a Summa row.
    lay = Layout([("Personnummer", "pnr"), ("Förnamn", "first"), ("Efternamn", "last"), ("Kön", "gender"),
                  ("Startdatum", "start"), ("Slutdatum", "end"), ("Avslutsorsak", "reason"),
                  ("Aktivitet", "activity"), ("Utrikes född", "foreign_born"),
                  ("Funktionsnedsättning", "disability"), ("Timmar", "hours")],
                 {"gender": GENDER_KM, "exit_reason": reason_std, "activity": act_sv,
                  "foreign_born": YES_NO, "disability": YES_NO},
                 pnr_styles=("long_dash", "long_dash", "long_dash", "short_dash"))
    b = SheetBuilder(lay)
    b.title("Deltagarlista – Nya eXtra stöd – Bollnäs kommun")
    b.title("Rapportdatum:", R)
    b.blank()
    b.header()
    data = [b.enrol(e, R) for e in by_sub["bollnas"]]
    b.rows = b.rows[:4]
    p, s = extra_person("bollnas")
    bad = View(p, "bollnas", s, None, None, attrs_common(rng, acts, fb, dis))
    bad.raw["pnr"] = bad_luhn(pnr_text(p, "long_dash"))
    err1 = Row("data", lay.render(bad), ("invalid_personnummer",),
               note="check digit (Luhn) wrong: a typo in the last digit")
    rows = list(data)
    place(rng, rows, [err1])
    k = rng.randint(5, len(rows) - 5)
    dup = Row("data", list(rows[k].cells), ("duplicate_row",), note="exact copy of the row above (pasted twice)")
    rows.insert(k + 1, dup)
    mid = len(rows) // 2
    rows.insert(mid, Row("blank", [], note="blank row in the middle of the list"))
    b.rows += rows
    hours_sum = sum(r.cells[10] or 0 for r in rows if r.kind == "data" and not r.rules)
    b.total("Summa", None, None, None, None, None, None, None, None, None, hours_sum)
    f = FileM("bollnas_deltagarlista.xlsx", "xlsx", "enrolments", R, [], "Deltagarlista",
              "xlsx; sheet `Deltagarlista`; title rows 1–3 (title, `Rapportdatum:` with the export date in B2, "
              "blank); header in row 4; real date cells; `K`/`M`; a blank row in the middle and a `Summa` "
              "row at the end.")
    f.sheets = [SheetM("Deltagarlista", b.rows, [16, 12, 14, 6, 12, 12, 22, 24, 12, 20, 8], merge_title=6)]
    files.append(f)

    # Gävle: real BIFF8 .xls, names/address/phone, Födelseland instead of a yes/no column.
    lay = Layout([("Pnr", "pnr"), ("Efternamn", "last"), ("Förnamn", "first"), ("Adress", "address"),
                  ("Telefon", "phone"), ("Kön", "gender"), ("Datum in", "start"), ("Datum ut", "end"),
                  ("Orsak till avslut", "reason"), ("Insats", "activity"), ("Födelseland", "country"),
                  ("Funktionsnedsättning", "disability"), ("Utbildningsnivå", "education"),
                  ("Arbetsmarknadsstatus", "labour"), ("Timmar", "hours")],
                 {"gender": GENDER_WORD,
                  "exit_reason": {"work": "Anställning", "work_subsidised": ["Lönebidrag", "Nystartsjobb"],
                                  "studies": ["Utbildning", "Komvux"], "job_seeking": "Inskriven på AF",
                                  "other": ["Övrigt", "Sjukskriven", "Flyttat"]},
                  "activity": {"language": "Svenska språket", "labour_market_knowledge": "Arbetsmarknadskunskap",
                               "civic_orientation": "Samhällsorientering", "health": "Hälsa",
                               "digital_skills": "Digital kompetens", "personal_finance": "Privatekonomi",
                               "mapping": "Kartläggning"},
                  "disability": YN_SHORT, "education": EDU_LONG, "labour": LABOUR},
                 pnr_styles=("long",))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["gavle"]]
    b.rows = b.rows[:1]
    # A stated gender that disagrees with the number: loads, flagged gender_mismatch (not a reject).
    mm = next(i for i, r in enumerate(rows) if r.rec.woman)
    e = by_sub["gavle"][mm]
    end, reason, hours = snapshot(e, R)
    rows[mm] = Row("data", lay.render(View(e.p, e.sub, e.start, end, reason, e.a, stated_woman=False,
                                           hours=hours)),
                   rec=rows[mm].rec, note="Kön says `Man`, the personnummer says woman: loads with "
                                          "gender_mismatch = true (not a reject)")
    errs = []
    p, s = extra_person("gavle")
    errs.append(Row("data", lay.render(View(p, "gavle", s, s - dt.timedelta(days=41), "work",
                                            attrs_common(rng, acts, fb, dis))),
                    ("end_before_start",), note="Datum ut 41 days before Datum in"))
    p, s = extra_person("gavle", woman=False)
    v = View(p, "gavle", s, s + dt.timedelta(days=120), "other", attrs_common(rng, acts, fb, dis))
    v.raw["reason"] = "Praktikplats"
    errs.append(Row("data", lay.render(v), ("unknown_value",),
                    note="Orsak till avslut `Praktikplats` is in no value map"))
    p, s = extra_person("gavle")
    v = View(p, "gavle", s, None, None, attrs_common(rng, acts, fb, dis))
    v.raw["pnr"] = ""
    errs.append(Row("data", lay.render(v), ("missing_required",),
                    note="Pnr empty (name, address and dates filled in)"))
    place(rng, rows, errs)
    b.rows += rows
    f = FileM("gavle_deltagare_juni2022.xls", "xls", "enrolments", R, [], "Blad1",
              "BIFF8 .xls; sheet `Blad1`; header in row 1; `Pnr` as 12 digits without dash (text cells); "
              "names, address and phone (ignored); `Kvinna`/`Man`; real date cells; `Födelseland` mapped "
              "to foreign_born by country name; education and labour-market status in words.")
    f.sheets = [SheetM("Blad1", b.rows, [15, 14, 12, 18, 15, 8, 11, 11, 18, 22, 13, 10, 26, 20, 8])]
    files.append(f)

    # Hudiksvall: UTF-8 with BOM, comma-separated, %Y%m%d dates, a multi-line comment, an empty line.
    lay = Layout([("Personnummer", "pnr"), ("Kon", "gender"), ("Inskrivningsdatum", "start"),
                  ("Avslutsdatum", "end"), ("Avslutsorsak", "reason"), ("Aktivitet", "activity"),
                  ("Utrikes född", "foreign_born"), ("Funktionsnedsättning", "disability"),
                  ("Utbildning", "education"), ("Timmar", "hours"), ("Kommentar", "comment"),
                  ("Adress", "address")],
                 {"gender": GENDER_KM,
                  "exit_reason": {"work": ["Arbete", "Eget företag"],
                                  "work_subsidised": "Subventionerad anställning", "studies": "Studier",
                                  "job_seeking": "Arbetssökande", "other": "Annat"},
                  "activity": act_sv, "foreign_born": YES_NO, "disability": YES_NO, "education": EDU},
                 dates="%Y%m%d", hours="point", pnr_styles=("long_dash", "short_dash"))
    b = SheetBuilder(lay)
    b.header()
    hud = by_sub["hudiksvall"]
    hud[3].a = dict(hud[3].a, comment="Byter handläggare i maj,\nkontakt via SFI")
    hud[7].a = dict(hud[7].a, comment='Deltar även i "Språkcafé" på biblioteket')
    rows = [b.enrol(e, R) for e in hud]
    rows[3].note = "Kommentar spans two lines (quoted field with a line break): the record starts on this line"
    b.rows = b.rows[:1]
    errs = []
    p, s = extra_person("hudiksvall")
    errs.append(Row("data", lay.render(View(p, "hudiksvall", s, None, "studies",
                                            attrs_common(rng, acts, fb, dis))),
                    ("outcome_without_exit",), note="Avslutsorsak `Studier` but no Avslutsdatum"))
    p, s = extra_person("hudiksvall", woman=False, age=80)
    errs.append(Row("data", lay.render(View(p, "hudiksvall", s, None, None, attrs_common(rng, acts, fb, dis))),
                    ("age_out_of_range",), note="born 80 years before the start (outside 15–67)"))
    place(rng, rows, errs)
    rows.insert(len(rows) * 2 // 3, Row("empty_line", [], note="a completely empty line (not a record)"))
    b.rows += rows
    f = FileM("hudiksvall_deltagare_20220630.csv", "csv", "enrolments", R, [], "csv",
              "CSV, UTF-8 with BOM, `,` separated, CRLF; export date in the file name (YYYYMMDD); dates "
              "`%Y%m%d`; hours with decimal point; header `Kon` without ring; a quoted multi-line "
              "`Kommentar` and an address column (ignored); one completely empty line.", bom=True)
    f.sheets = [SheetM("csv", b.rows)]
    files.append(f)

    # Söderhamn: Windows-1252, `;`, decimal comma, YYMMDD-NNNN, a row of empty fields.
    lay = Layout([("Personnr", "pnr"), ("Förnamn", "first"), ("Efternamn", "last"), ("Adress", "address"),
                  ("Kön", "gender"), ("Startdatum", "start"), ("Slutdatum", "end"),
                  ("Avslutsorsak", "reason"), ("Aktivitet", "activity"), ("Utrikes född", "foreign_born"),
                  ("Funktionsnedsättning", "disability"), ("Arbetsmarknadsstatus", "labour"),
                  ("Timmar", "hours")],
                 {"gender": GENDER_WORD,
                  "exit_reason": {"work": "Osubventionerat arbete", "work_subsidised": "Subventionerat arbete",
                                  "studies": "Studier", "job_seeking": "Aktivt arbetssökande",
                                  "other": "Annan orsak"},
                  "activity": act_sv, "foreign_born": YES_NO, "disability": YES_NO, "labour": LABOUR},
                 dates="%Y-%m-%d", hours="comma", pnr_styles=("short_dash",))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["soderhamn"]]
    b.rows = b.rows[:1]
    rows[5].cells[3] = rows[5].cells[3] + " – lgh 1102"  # an en dash: byte 0x96 in Windows-1252
    errs = []
    p, s = extra_person("soderhamn")
    v = View(p, "soderhamn", s, None, None, attrs_common(rng, acts, fb, dis))
    v.raw["end"] = "2021-13-45"
    errs.append(Row("data", lay.render(v), ("invalid_date",), note="Slutdatum `2021-13-45` (month 13, day 45)"))
    p, s = extra_person("soderhamn", age=12)
    errs.append(Row("data", lay.render(View(p, "soderhamn", s, None, None, attrs_common(rng, acts, fb, dis))),
                    ("age_out_of_range",), note="12 years old at the start (a child's number typed in)"))
    p, s = extra_person("soderhamn", woman=False)
    v = View(p, "soderhamn", s, None, None, attrs_common(rng, acts, fb, dis))
    v.raw["pnr"] = sci_notation(p)
    errs.append(Row("data", lay.render(v), ("invalid_personnummer",),
                    note=f"Personnr `{v.raw['pnr']}`: Excel scientific notation, digits lost"))
    place(rng, rows, errs)
    rows.insert(len(rows) // 3, Row("blank", [""] * len(lay.cols), note="a record of empty fields (`;;;;…`)"))
    b.rows += rows
    f = FileM("soderhamn_deltagare.csv", "csv", "enrolments", R, [], "csv",
              "CSV as Swedish Excel saves it: Windows-1252, `;` separated, CRLF, decimal comma in `Timmar`; "
              "dates `%Y-%m-%d`; `YYMMDD-NNNN`; `Kvinna`/`Man`; names and address (ignored, one with an en "
              "dash, byte 0x96); one record of only separators.", encoding="cp1252", delimiter=";")
    f.sheets = [SheetM("csv", b.rows)]
    files.append(f)

    # Ockelbo: .ods, lower-case k/m, a trailing "Antal deltagare" row.
    lay = Layout([("Personnummer", "pnr"), ("Kön", "gender"), ("Startdatum", "start"), ("Slutdatum", "end"),
                  ("Avslutsorsak", "reason"), ("Insats", "activity"), ("Utrikes född", "foreign_born"),
                  ("Funktionsnedsättning", "disability"), ("Timmar", "hours")],
                 {"gender": GENDER_LOWER,
                  "exit_reason": {"work": "Arbete", "work_subsidised": "Arbete med stöd", "studies": "Studier",
                                  "job_seeking": "Arbetssökande", "other": ["Avbrott", "Annat"]},
                  "activity": act_sv, "foreign_born": YN_SHORT, "disability": YN_SHORT},
                 pnr_styles=("long_dash", "long", "space_mid"))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["ockelbo"]]
    b.rows = b.rows[:1]
    p, s = extra_person("ockelbo", woman=False)
    bad = View(p, "ockelbo", s, s + dt.timedelta(days=90), "job_seeking", attrs_common(rng, acts, fb, dis))
    bad.raw["pnr"] = bad_luhn(pnr_text(p, "long"))
    place(rng, rows, [Row("data", lay.render(bad), ("invalid_personnummer",),
                          note="check digit (Luhn) wrong")])
    b.rows += rows
    b.total(f"Antal deltagare: {sum(1 for r in rows if r.kind == 'data')}")
    f = FileM("ockelbo_deltagare.ods", "ods", "enrolments", R, [], "Deltagare",
              "OpenDocument spreadsheet; sheet `Deltagare`; header in row 1; date cells; `k`/`m`; `J`/`N`; "
              "personnummer in three forms (with dash, 12 digits, a space instead of the dash); a closing "
              "`Antal deltagare: N` row.")
    f.sheets = [SheetM("Deltagare", b.rows)]
    files.append(f)

    # Nordanstig: xlsx whose first sheet is an instruction; participants on the second sheet; text dates.
    lay = Layout([("Personnummer", "pnr"), ("Förnamn", "first"), ("Efternamn", "last"), ("Telefon", "phone"),
                  ("Kön", "gender"), ("Startdatum", "start"), ("Slutdatum", "end"), ("Avslutsorsak", "reason"),
                  ("Aktivitet", "activity"), ("Utrikes född", "foreign_born"),
                  ("Funktionsnedsättning", "disability"), ("Utbildningsnivå", "education"),
                  ("Timmar", "hours")],
                 {"gender": GENDER_KM,
                  "exit_reason": {"work": "Arbete", "work_subsidised": "Lönebidragsanställning",
                                  "studies": ["Studier", "Folkhögskola"], "job_seeking": "Arbetssökande",
                                  "other": "Annat"},
                  "activity": act_sv, "foreign_born": YES_NO, "disability": YES_NO, "education": EDU},
                 dates="%Y-%m-%d %H:%M:%S", pnr_styles=("long_dash", "space_dash", "trail", "long_dash"))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["nordanstig"]]
    b.rows = b.rows[:1]
    errs = []
    p, s = extra_person("nordanstig")
    v = View(p, "nordanstig", s, None, None, dict(attrs_common(rng, acts, fb, dis)))
    v.raw["activity"] = "Körkortsteori"
    errs.append(Row("data", lay.render(v), ("unknown_value",),
                    note="Aktivitet `Körkortsteori` is in no value map"))
    p, s = extra_person("nordanstig", woman=False)
    errs.append(Row("data", lay.render(View(p, "nordanstig", s, s - dt.timedelta(days=3), "other",
                                            attrs_common(rng, acts, fb, dis))),
                    ("end_before_start",), note="Slutdatum 3 days before Startdatum"))
    place(rng, rows, errs)
    b.rows += rows
    instr = [Row("title", ["Instruktion"]), Row("title", ["Fyll i en rad per deltagare på fliken Deltagare."]),
             Row("title", ["Personnummer skrivs ÅÅÅÅMMDD-XXXX. Datum skrivs ÅÅÅÅ-MM-DD."]),
             Row("title", ["Filen skickas till projektledningen senast den 5:e varje månad."])]
    f = FileM("nordanstig_uppfoljning_2022.xlsx", "xlsx", "enrolments", R, [], "Deltagare",
              "xlsx with an `Instruktion` sheet first; the participants are on the SECOND sheet `Deltagare` "
              "(selected by name); dates are text `2021-05-03 00:00:00`; personnummer with stray spaces; "
              "names and phone (ignored).")
    f.sheets = [SheetM("Instruktion", instr, [70]),
                SheetM("Deltagare", b.rows, [16, 12, 14, 15, 6, 20, 20, 22, 24, 12, 20, 16, 8])]
    files.append(f)

    # Ovanåker: xlsx from a system that writes dates as Excel serial numbers (plain numbers) and CAPITALS.
    lay = Layout([("PNR", "pnr"), ("KÖN", "gender"), ("START INSATS", "start"), ("UTSKRIVNINGSDATUM", "end"),
                  ("ANLEDNING AVSLUT", "reason"), ("AKTIVITET", "activity"), ("UTRIKES FÖDD", "foreign_born"),
                  ("FUNKTIONSNEDSÄTTNING", "disability"), ("TIMMAR", "hours")],
                 {"gender": GENDER_KM,
                  "exit_reason": {"work": "ARBETE", "work_subsidised": "ANST MED STÖD", "studies": "STUDIER",
                                  "job_seeking": "ARBETSSÖKANDE", "other": "ÖVRIGT"},
                  "activity": {k: (v if isinstance(v, str) else v[0]).upper() for k, v in act_sv.items()},
                  "foreign_born": {"yes": "JA", "no": "NEJ", "refused": "VILL EJ UPPGE"},
                  "disability": {"yes": "JA", "no": "NEJ", "refused": "VILL EJ UPPGE", "unknown": "OKÄND"}},
                 dates="serial", pnr_styles=("long",))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["ovanaker"]]
    b.rows = b.rows[:1]
    p, s = extra_person("ovanaker")
    place(rng, rows, [Row("data", lay.render(View(p, "ovanaker", s, None, "work", attrs_common(rng, acts, fb, dis))),
                          ("outcome_without_exit",), note="ANLEDNING AVSLUT `ARBETE` without UTSKRIVNINGSDATUM")])
    b.rows += rows
    f = FileM("ovanaker_deltagare.xlsx", "xlsx", "enrolments", R, [], "Blad1",
              "xlsx; sheet `Blad1`; header in row 1 in CAPITALS; dates are Excel serial numbers typed as "
              "plain numbers (e.g. 44456); values in capitals; 12-digit personnummer as text.")
    f.sheets = [SheetM("Blad1", b.rows, [15, 6, 14, 20, 20, 26, 14, 22, 8])]
    files.append(f)

    # Sandviken: two monthly exports; most people are in both; some got an end date in June.
    lay = Layout([("Personnummer", "pnr"), ("Namn", "name"), ("Kön", "gender"), ("Startdatum", "start"),
                  ("Slutdatum", "end"), ("Avslutsorsak", "reason"), ("Aktivitet", "activity"),
                  ("Utrikes född", "foreign_born"), ("Funktionsnedsättning", "disability"),
                  ("Timmar", "hours")],
                 {"gender": GENDER_KM, "exit_reason": reason_std, "activity": act_sv,
                  "foreign_born": YES_NO, "disability": YES_NO},
                 pnr_styles=("long_dash",))
    sand = by_sub["sandviken"]
    may, june = D(2022, 5, 31), D(2022, 6, 30)
    fixed_in_june = next(e for e in sand if e.start < D(2022, 3, 1) and (e.end is None or e.end > june))
    for asof in (may, june):
        b = SheetBuilder(lay)
        b.header()
        if asof == may:
            listed = [e for e in sand if e.start <= may]
        else:  # closed cases older than three months are archived and drop out of the export
            listed = [e for e in sand if e.end is None or e.end >= D(2022, 4, 1)]
        rows = []
        for e in listed:
            if asof == may and e is fixed_in_june:
                end, reason, hours = snapshot(e, asof)
                v = View(e.p, e.sub, e.start, end, reason, e.a, hours=hours)
                v.raw["pnr"] = bad_luhn(pnr_text(e.p, "long_dash"))
                rows.append(Row("data", lay.render(v), ("invalid_personnummer",),
                                note="check digit wrong; corrected in the June export (loads from there)"))
            else:
                rows.append(b.enrol(e, asof))
                b.rows.pop()
        if asof == june:
            k = rng.randint(3, len(rows) - 3)
            rows.insert(k + 1, Row("data", list(rows[k].cells), ("duplicate_row",),
                                   note="exact copy of the row above"))
        b.rows += rows
        f = FileM(f"sandviken_deltagare_{asof}.xlsx", "xlsx", "enrolments", asof, [], "Export",
                  "monthly export (xlsx, sheet `Export`, header in row 1); the export date is in the file "
                  "name; the same enrolments appear in both months; participants who ended in June have "
                  "their end date and reason only in the June file; cases closed before April are archived "
                  "and are only in the May file.")
        f.sheets = [SheetM("Export", b.rows, [16, 22, 6, 12, 12, 22, 24, 12, 20, 8])]
        files.append(f)

    intro = ("Nya eXtra stöd i Gävleborg (ESF 2014–2020), eight municipal sub-projects, ~545 participants, "
             "at least 60 % women. The seed gives no project period: the pipeline assumes 2021-01-01 – "
             "2022-12-31. Report date 2022-06-30 (mid-project). Three people moved between municipalities "
             "(Bollnäs→Söderhamn, Gävle→Sandviken, Hudiksvall→Nordanstig): they count in both sub-projects "
             "and once in the project.")

    def check_women(ov):
        t = ov["project"]
        share = t["woman"]["participants"] / t["total"]["participants"]
        assert share >= 0.60, f"000: share of women {share:.3f} < 0.60"

    return ProjectOut(pid, "Nya eXtra stöd i Gävleborg", R,
                      [(s[0], s[1], s[2]) for s in subs], files, truth, intro, [check_women])


# --- 001 Vägar till egenförsörjning -------------------------------------------------------------------

REASON_JAMTLAND = {
    "work": ["Arbete", "Anställning"],
    "work_subsidised": ["Anställning med lönebidrag", "Nystartsjobb", "Anpassad anställning"],
    "studies": ["Studier", "Arbetsmarknadsutbildning", "Folkhögskola"],
    "job_seeking": ["Arbetssökande", "Åter till AF"],
    "other": ["Sjukskrivning", "Flyttat", "Annat", "Avbrott"],
}
ACT_001 = {"mapping": "Kartläggning", "work_training": ["Arbetsträning", "Praktik"], "matching": "Matchning",
           "guidance": "Studie- och yrkesvägledning", "health": "Hälsoinsats",
           "social_support": "Lågtröskelverksamhet"}


def project_001(scale: int) -> ProjectOut:
    pid = "jamtland_vagar_till_egenforsorjning"
    rng = random.Random(f"{SEED}-{pid}")
    people = People(rng)
    R = D(2022, 6, 30)
    subs = [("ragunda", "Ragunda", "2303", 25), ("bracke", "Bräcke", "2305", 25), ("krokom", "Krokom", "2309", 30),
            ("stromsund", "Strömsund", "2313", 25), ("are", "Åre", "2321", 25), ("berg", "Berg", "2326", 20),
            ("ostersund", "Östersund", "2380", 60)]
    # Project-level plan (per individual): 131 leave towards self-sufficiency (work, subsidised or adapted
    # work, studies or labour-market training), 71 other exits, 8 still active at the end.
    plan = (["work"] * 52 + ["work_subsidised"] * 49 + ["studies"] * 30 + ["job_seeking"] * 38 +
            ["other"] * 25 + ["none"] * 8 + ["active"] * 8) * scale
    rng.shuffle(plan)
    acts = {"mapping": 20, "work_training": 35, "matching": 15, "guidance": 10, "health": 10,
            "social_support": 10}
    truth = []
    i = 0
    for sid, _, _, n in subs:
        for _ in range(n * scale):
            status = plan[i]
            i += 1
            s = rand_date(rng, D(2020, 3, 2), D(2022, 3, 31))
            p = people.person(rng.random() < 0.55, [s])
            a = attrs_common(rng, acts, {"yes": 45, "no": 55}, {"yes": 35, "no": 60, "refused": 5})
            if status == "active":
                end, reason = None, None
            else:
                end = min(R, s + dt.timedelta(days=rng.randint(60, 540)))
                reason = None if status == "none" else status
            truth.append(Enrol(p, sid, s, end, reason, a))
    by_sub = defaultdict(list)
    for e in sorted(truth, key=lambda e: (e.start, e.p.pnr)):
        by_sub[e.sub].append(e)

    def extra(sub, woman=True, age=None, start=None):
        s = start or rand_date(rng, D(2020, 3, 2), D(2022, 3, 31))
        if age is None:
            return people.person(woman, [s]), s
        return people.new(woman, birth_aged(rng, s, age)), s

    def A():
        return attrs_common(rng, acts, {"yes": 45, "no": 55}, {"yes": 35, "no": 60})

    files = []
    kommun = {s[0]: (s[1], s[2]) for s in subs}

    # Östersund: quarterly cumulative exports, file names carry YYYY-MM (last day of that month).
    lay = Layout([("Personnummer", "pnr"), ("Namn", "name"), ("Kön", "gender"), ("Inskrivningsdatum", "start"),
                  ("Utskrivningsdatum", "end"), ("Avslutsorsak", "reason"), ("Insats", "activity"),
                  ("Arbetsmarknadsstatus", "labour"), ("Utbildningsnivå", "education"),
                  ("Funktionsnedsättning", "disability"), ("Timmar", "hours")],
                 {"gender": GENDER_KM, "exit_reason": REASON_JAMTLAND, "activity": ACT_001, "labour": LABOUR,
                  "education": EDU, "disability": YES_NO},
                 pnr_styles=("long_dash", "long_dash", "long"))
    for asof, tag in ((D(2022, 3, 31), "2022-03"), (R, "2022-06")):
        b = SheetBuilder(lay)
        b.header()
        for e in by_sub["ostersund"]:
            if e.start <= asof:
                b.enrol(e, asof)
        if asof == R:
            k = rng.randint(10, len(b.rows) - 5)
            b.rows.insert(k + 1, Row("data", list(b.rows[k].cells), ("duplicate_row",),
                                     note="exact copy of the row above"))
        f = FileM(f"ostersund_kvartal_{tag}.xlsx", "xlsx", "enrolments", asof, [], "Deltagare",
                  "quarterly cumulative export (xlsx, sheet `Deltagare`, header row 1); the file name carries "
                  "`YYYY-MM` (export date = last day of that month); participants who left in Q2 have their "
                  "end date only in the June file.")
        f.sheets = [SheetM("Deltagare", b.rows, [16, 22, 6, 16, 16, 26, 26, 20, 16, 20, 8])]
        files.append(f)

    # Krokom: UTF-8 without BOM, `;`, decimal comma.
    lay = Layout([("Personnummer", "pnr"), ("Förnamn", "first"), ("Efternamn", "last"), ("Kön", "gender"),
                  ("Startdatum", "start"), ("Slutdatum", "end"), ("Avslutsorsak", "reason"), ("Insats", "activity"),
                  ("Funktionsnedsättning", "disability"), ("Timmar", "hours")],
                 {"gender": GENDER_WORD, "exit_reason": REASON_JAMTLAND, "activity": ACT_001, "disability": YES_NO},
                 dates="%Y-%m-%d", hours="comma", pnr_styles=("short_dash", "long_dash"))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["krokom"]]
    b.rows = b.rows[:1]
    errs = []
    p, s = extra("krokom")
    v = View(p, "krokom", s, s + dt.timedelta(days=200), "work", A())
    v.raw["pnr"] = bad_luhn(pnr_text(p, "short_dash"))
    errs.append(Row("data", lay.render(v), ("invalid_personnummer",), note="check digit (Luhn) wrong"))
    p, s = extra("krokom", woman=False, start=D(2019, 11, 18))
    errs.append(Row("data", lay.render(View(p, "krokom", s, D(2020, 6, 12), "job_seeking", A())),
                    ("outside_project_period",),
                    note="Startdatum 2019-11-18, before the project start 2020-02-01 (carried over from an "
                         "earlier project)"))
    place(rng, rows, errs)
    b.rows += rows
    f = FileM("krokom_deltagare.csv", "csv", "enrolments", R, [], "csv",
              "CSV from a web system: UTF-8 without BOM, `;` separated, decimal comma; dates `%Y-%m-%d`; "
              "`Kvinna`/`Man`; `YYMMDD-NNNN` and `YYYYMMDD-NNNN` mixed; names (ignored).", delimiter=";")
    f.sheets = [SheetM("csv", b.rows)]
    files.append(f)

    # Strömsund: .ods
    lay = Layout([("Personnummer", "pnr"), ("Kön", "gender"), ("Startdatum", "start"), ("Slutdatum", "end"),
                  ("Avslutsorsak", "reason"), ("Insats", "activity"), ("Funktionsnedsättning", "disability"),
                  ("Timmar", "hours")],
                 {"gender": GENDER_WORD, "exit_reason": REASON_JAMTLAND, "activity": ACT_001, "disability": YES_NO},
                 pnr_styles=("long_dash", "long"))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["stromsund"]]
    b.rows = b.rows[:1]
    errs = []
    p, s = extra("stromsund")
    errs.append(Row("data", lay.render(View(p, "stromsund", s, None, "work_subsidised", A())),
                    ("outcome_without_exit",), note="an exit reason without Slutdatum"))
    p, s = extra("stromsund", woman=False)
    v = View(p, "stromsund", s, s + dt.timedelta(days=150), "other", A())
    v.raw["reason"] = "Arbetsprövning"
    errs.append(Row("data", lay.render(v), ("unknown_value",), note="Avslutsorsak `Arbetsprövning` is in no value map"))
    place(rng, rows, errs)
    b.rows += rows
    f = FileM("stromsund_deltagare.ods", "ods", "enrolments", R, [], "Blad1",
              "OpenDocument spreadsheet; sheet `Blad1`; header row 1; date cells; `Kvinna`/`Man`.")
    f.sheets = [SheetM("Blad1", b.rows)]
    files.append(f)

    # Åre: xlsx with title rows, header_row = 4 in the pipeline, a `Totalt` row.
    lay = Layout([("Personnr", "pnr"), ("Förnamn", "first"), ("Efternamn", "last"), ("Adress", "address"),
                  ("Telefon", "phone"), ("Kön", "gender"), ("Datum in", "start"), ("Datum ut", "end"),
                  ("Avslut till", "reason"), ("Aktivitet", "activity"), ("Timmar", "hours")],
                 {"gender": GENDER_KM, "exit_reason": REASON_JAMTLAND, "activity": ACT_001},
                 pnr_styles=("long_dash",))
    b = SheetBuilder(lay)
    b.title("Vägar till egenförsörjning – Åre kommun")
    b.title(f"Uttag {R}")
    b.blank()
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["are"]]
    b.rows = b.rows[:4]
    p, s = extra("are")
    place(rng, rows, [Row("data", lay.render(View(p, "are", s, s - dt.timedelta(days=365), "studies", A())),
                          ("end_before_start",), note="Datum ut a year before Datum in (wrong year typed)")])
    b.rows += rows
    b.total("Totalt", None, None, None, None, None, None, None, None, None,
            sum(r.cells[10] for r in rows if not r.rules))
    f = FileM("are_deltagarlista.xlsx", "xlsx", "enrolments", R, [], "Deltagare",
              "xlsx; sheet `Deltagare`; title rows 1–3 (title, `Uttag …`, blank) and the header in row 4 "
              "(stated in the pipeline: `header_row = 4`); date cells; a closing `Totalt` row; names, "
              "address and phone (ignored).")
    f.sheets = [SheetM("Deltagare", b.rows, [16, 12, 14, 18, 15, 6, 12, 12, 26, 26, 8])]
    files.append(f)

    # Berg: real .xls, plus an "xls" web export that is really HTML (the file fails, the run goes on).
    lay = Layout([("Personnummer", "pnr"), ("Kön", "gender"), ("Startdatum", "start"), ("Slutdatum", "end"),
                  ("Avslutsorsak", "reason"), ("Insats", "activity"), ("Utbildning", "education"),
                  ("Status vid start", "labour")],
                 {"gender": GENDER_KM, "exit_reason": REASON_JAMTLAND, "activity": ACT_001, "education": EDU,
                  "labour": LABOUR},
                 pnr_styles=("long_dash", "short_dash"))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["berg"]]
    b.rows = b.rows[:1]
    p, s = extra("berg", age=80)
    place(rng, rows, [Row("data", lay.render(View(p, "berg", s, None, None, A())), ("age_out_of_range",),
                          note="80 years old at the start")])
    b.rows += rows
    f = FileM("berg_deltagare.xls", "xls", "enrolments", R, [], "Blad1",
              "BIFF8 .xls; sheet `Blad1`; header row 1; date cells; `Utbildning` and `Status vid start`.")
    f.sheets = [SheetM("Blad1", b.rows, [16, 6, 12, 12, 26, 26, 14, 18])]
    files.append(f)
    web = FileM("berg_deltagare_webbexport.xls", "html", "enrolments", R, [], "html",
                "NOT a workbook: an HTML table saved with an `.xls` name by a web system. Matches the Berg "
                "glob; expected `status = failed`, counts 0, the run goes on.", failed=True)
    web.sheets = [SheetM("html", [Row("header", lay.headers)] + [Row("data", r.cells[:]) for r in rows[:3]])]
    for r in web.sheets[0].rows:
        r.cells = ["" if c is None else str(c) for c in r.cells]
    files.append(web)

    # Bräcke and Ragunda share a coordinator and one file; the kommunkod column says the sub-project.
    lay = Layout([("Kommun", "kommun"), ("Kommunkod", "kommunkod"), ("Personnummer", "pnr"), ("Kön", "gender"),
                  ("Startdatum", "start"), ("Slutdatum", "end"), ("Avslutsorsak", "reason"), ("Insats", "activity"),
                  ("Timmar", "hours")],
                 {"gender": GENDER_KM, "exit_reason": REASON_JAMTLAND, "activity": ACT_001},
                 pnr_styles=("long_dash", "long"), kommun=kommun)
    b = SheetBuilder(lay)
    b.header()
    both = sorted(by_sub["bracke"] + by_sub["ragunda"], key=lambda e: (e.start, e.p.pnr))
    rows = [b.enrol(e, R) for e in both]
    b.rows = b.rows[:1]
    numeric = [r for r in rows if r.cells[1] == "2305"][:3]
    for r in numeric:
        r.cells[1] = 2305  # typed as a number: the cell holds 2305.0
        r.note = "Kommunkod typed as the number 2305 (not text)"
    p, s = extra("bracke")
    v = View(p, "bracke", s, None, None, A())
    v.raw["kommun"], v.raw["kommunkod"] = "Härjedalen", "2361"
    place(rng, rows, [Row("data", lay.render(v), ("unknown_subproject",),
                          note="Kommunkod 2361 (Härjedalen, not part of this project)")])
    b.rows += rows
    f = FileM("bracke_ragunda_deltagare.xlsx", "xlsx", "enrolments", R, [], "Deltagare",
              "one xlsx for two municipalities (sheet `Deltagare`, header row 1): `Kommunkod` decides the "
              "sub-project (mapped to `municipality_code`); three Bräcke codes are numeric cells.")
    f.sheets = [SheetM("Deltagare", b.rows, [12, 11, 16, 6, 12, 12, 26, 26, 8])]
    files.append(f)

    intro = ("Vägar till egenförsörjning (2019/00419, ESF 2014–2020), Region Jämtland Härjedalen with seven "
             "municipalities (all but Härjedalen). 210 planned participants; target: at least 125 leave "
             "towards self-sufficiency (work, incl. subsidised/adapted employment, or studies/labour-market "
             "training). The data meet it with 131. Report date 2022-06-30 (project end).")

    def check(ov):
        t = ov["project"]["total"]
        assert t["participants"] == 210 * scale, t
        assert t["exits_work"] + t["exits_studies"] == 131 * scale, t

    return ProjectOut(pid, "Vägar till egenförsörjning", R, [(s[0], s[1], s[2]) for s in subs], files, truth,
                      intro, [check])


# --- 002 Integrationsprojekt --------------------------------------------------------------------------

def project_002(scale: int) -> ProjectOut:
    pid = "jamtland_integrationsprojekt"
    rng = random.Random(f"{SEED}-{pid}")
    people = People(rng)
    R = D(2016, 10, 31)
    subs = [("ragunda", "Ragunda", "2303", 30), ("bracke", "Bräcke", "2305", 28), ("krokom", "Krokom", "2309", 30),
            ("stromsund", "Strömsund", "2313", 30), ("are", "Åre", "2321", 25), ("berg", "Berg", "2326", 25),
            ("harjedalen", "Härjedalen", "2361", 28), ("ostersund", "Östersund", "2380", 90)]
    # The seed: "259 deltagare (90 kvinnor och 196 män) … 123 har avslutat, 53 arbete, 7 studerar, 21 annat".
    # 90 + 196 = 286, so 286 is read as enrolments and 259 as individuals: 27 people took part in two
    # municipalities (9 women, 18 men). The other 42 exits are decided here: 30 job_seeking, 12 no reason.
    n_doubles_w, n_doubles_m = 9 * scale, 18 * scale
    n_single_w, n_single_m = 72 * scale, 160 * scale
    status = (["work"] * 43 + ["work_subsidised"] * 10 + ["studies"] * 7 + ["other"] * 21 +
              ["job_seeking"] * 30 + ["none"] * 12 + ["active"] * 136) * scale
    rng.shuffle(status)
    slots = {s[0]: s[3] * scale for s in subs}
    truth = []
    acts = {"language": 35, "mapping": 25, "work_training": 20, "matching": 15, "civic_orientation": 5}

    def A():
        a = attrs_common(rng, acts, {"yes": 100}, {"yes": 8, "no": 88, "unknown": 4})
        a["education"] = weighted(rng, {"isced_0_2": 45, "isced_3_4": 25, "isced_5_8": 15, "unknown": 15})
        a["labour"] = weighted(rng, {"unemployed": 55, "inactive": 40, "unknown": 5})
        a["ltu"] = "no"
        return a

    def final_enrol(p, sub, s, st):
        if st == "active":
            return Enrol(p, sub, s, None, None, A())
        end = rand_date(rng, min(s + dt.timedelta(days=14), R), min(s + dt.timedelta(days=330), R))
        return Enrol(p, sub, s, end, None if st == "none" else st, A())

    k = 0
    # Doubles: moved from one municipality to another (mostly to Östersund).
    sub_ids = [s[0] for s in subs]
    for woman in [True] * n_doubles_w + [False] * n_doubles_m:
        st = status[k]
        k += 1
        a_sub = rng.choice([x for x in sub_ids if slots[x] > 0])
        b_choices = [x for x in sub_ids if x != a_sub and slots[x] > 0]
        b_sub = "ostersund" if "ostersund" in b_choices and rng.random() < 0.6 else rng.choice(b_choices)
        slots[a_sub] -= 1
        slots[b_sub] -= 1
        s1 = rand_date(rng, D(2015, 9, 14), D(2016, 3, 31))
        e1 = s1 + dt.timedelta(days=rng.randint(45, 150))
        s2 = e1 + dt.timedelta(days=rng.randint(5, 45))
        p = people.person(woman, [s1, s2])
        truth.append(Enrol(p, a_sub, s1, e1, "other" if rng.random() < 0.7 else None, A()))
        truth.append(final_enrol(p, b_sub, s2, st))
    singles = [True] * n_single_w + [False] * n_single_m
    rng.shuffle(singles)
    pool = [x for x in sub_ids for _ in range(slots[x])]
    rng.shuffle(pool)
    assert len(pool) == len(singles)
    for woman, sub in zip(singles, pool):
        st = status[k]
        k += 1
        s = rand_date(rng, D(2015, 9, 14), D(2016, 10, 24))
        kind = "samordningsnummer" if rng.random() < 0.02 else "personnummer"
        p = people.new(woman, people.birth_for([s], 18, 60, 29), kind)
        truth.append(final_enrol(p, sub, s, st))
    by_sub = defaultdict(list)
    for e in sorted(truth, key=lambda e: (e.start, e.p.pnr)):
        by_sub[e.sub].append(e)

    def extra(sub, woman=True, age=None):
        s = rand_date(rng, D(2015, 9, 14), D(2016, 9, 30))
        if age is None:
            return people.person(woman, [s]), s
        return people.new(woman, birth_aged(rng, s, age)), s

    reasons = {"work": ["Arbete", "Anställning"], "work_subsidised": ["Instegsjobb", "Nystartsjobb", "Extratjänst"],
               "studies": ["Studier", "Utbildning"], "job_seeking": ["Arbetssökande", "Åter till AF"],
               "other": ["Annat", "Flyttat", "Föräldraledig", "Avbrott"]}
    act_sv = {"language": ["SFI", "Språkpraktik"], "mapping": "Kompetenskartläggning", "work_training": "Praktik",
              "matching": "Matchning", "civic_orientation": "Samhällsorientering"}
    files = []

    # Östersund: monthly exports, YYYYMMDD in the file name.
    lay = Layout([("Personnummer", "pnr"), ("Förnamn", "first"), ("Efternamn", "last"), ("Kön", "gender"),
                  ("Startdatum", "start"), ("Slutdatum", "end"), ("Avslutsorsak", "reason"), ("Insats", "activity"),
                  ("Utbildningsnivå", "education"), ("Arbetsmarknadsstatus", "labour")],
                 {"gender": GENDER_KM, "exit_reason": reasons, "activity": act_sv, "education": EDU,
                  "labour": LABOUR}, pnr_styles=("long_dash",))
    for asof in (D(2016, 9, 30), R):
        b = SheetBuilder(lay)
        b.header()
        for e in by_sub["ostersund"]:
            if e.start <= asof:
                b.enrol(e, asof)
        if asof == R:
            k2 = rng.randint(10, len(b.rows) - 5)
            b.rows.insert(k2 + 1, Row("data", list(b.rows[k2].cells), ("duplicate_row",),
                                      note="exact copy of the row above"))
        f = FileM(f"ostersund_integration_{asof:%Y%m%d}.xlsx", "xlsx", "enrolments", asof, [], "Deltagare",
                  "monthly cumulative export (xlsx, sheet `Deltagare`, header row 1); export date `YYYYMMDD` in "
                  "the file name; October repeats September's enrolments, with end dates for those who left "
                  "in October.")
        f.sheets = [SheetM("Deltagare", b.rows, [16, 12, 14, 6, 12, 12, 20, 24, 16, 20])]
        files.append(f)

    # Krokom: .xls, SCB gender codes 1/2.
    lay = Layout([("Personnr", "pnr"), ("Namn", "name_rev"), ("Kön", "gender"), ("Inskrivningsdatum", "start"),
                  ("Utskrivningsdatum", "end"), ("Orsak till avslut", "reason"), ("Aktivitet", "activity"),
                  ("Timmar", "hours")],
                 {"gender": GENDER_SCB, "exit_reason": reasons, "activity": act_sv},
                 pnr_styles=("short_dash",))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["krokom"]]
    b.rows = b.rows[:1]
    p, s = extra("krokom", woman=False)
    v = View(p, "krokom", s, None, None, A())
    v.raw["pnr"] = "7612345"
    place(rng, rows, [Row("data", lay.render(v), ("invalid_personnummer",),
                          note="`7612345`: a Migrationsverket dossier number (7 digits) typed as Personnr")])
    b.rows += rows
    f = FileM("krokom_deltagare_okt2016.xls", "xls", "enrolments", R, [], "Blad1",
              "BIFF8 .xls; sheet `Blad1`; header row 1; `YYMMDD-NNNN`; `Kön` as SCB codes 1 = man, 2 = woman; "
              "`Namn` as `Efternamn, Förnamn` (ignored).")
    f.sheets = [SheetM("Blad1", b.rows, [14, 24, 6, 16, 16, 20, 22, 8])]
    files.append(f)

    # Strömsund: .ods
    lay = Layout([("Pnr", "pnr"), ("Kön", "gender"), ("Datum in", "start"), ("Datum ut", "end"),
                  ("Avslutsorsak", "reason"), ("Insats", "activity")],
                 {"gender": GENDER_WORD, "exit_reason": reasons, "activity": act_sv},
                 pnr_styles=("long", "long_dash"))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["stromsund"]]
    b.rows = b.rows[:1]
    p, s = extra("stromsund")
    place(rng, rows, [Row("data", lay.render(View(p, "stromsund", s, s - dt.timedelta(days=30), "work", A())),
                          ("end_before_start",), note="Datum ut a month before Datum in")])
    b.rows += rows
    f = FileM("stromsund_projektverkstad.ods", "ods", "enrolments", R, [], "Deltagare",
              "OpenDocument spreadsheet; sheet `Deltagare`; header row 1; date cells; `Pnr`; `Kvinna`/`Man`.")
    f.sheets = [SheetM("Deltagare", b.rows)]
    files.append(f)

    # Åre: Windows-1252 `;` CSV with decimal comma.
    lay = Layout([("Personnummer", "pnr"), ("Förnamn", "first"), ("Efternamn", "last"), ("Kön", "gender"),
                  ("Startdatum", "start"), ("Slutdatum", "end"), ("Avslutsorsak", "reason"), ("Timmar", "hours")],
                 {"gender": GENDER_KM, "exit_reason": reasons}, dates="%Y-%m-%d", hours="comma",
                 pnr_styles=("long_dash",))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["are"]]
    b.rows = b.rows[:1]
    p, s = extra("are", woman=False)
    v = View(p, "are", s, s + dt.timedelta(days=60), "other", A())
    v.raw["reason"] = "Praktik"
    place(rng, rows, [Row("data", lay.render(v), ("unknown_value",),
                          note="Avslutsorsak `Praktik` is in no value map (the analyst must decide)")])
    b.rows += rows
    f = FileM("are_deltagare_2016-10-31.csv", "csv", "enrolments", R, [], "csv",
              "CSV: Windows-1252, `;` separated, decimal comma; dates `%Y-%m-%d`; names (ignored).",
              encoding="cp1252", delimiter=";")
    f.sheets = [SheetM("csv", b.rows)]
    files.append(f)

    # Berg: xlsx with title rows and a Summa row.
    lay = Layout([("Personnummer", "pnr"), ("Förnamn", "first"), ("Efternamn", "last"), ("Kön", "gender"),
                  ("Startdatum", "start"), ("Slutdatum", "end"), ("Avslutsorsak", "reason"), ("Insats", "activity")],
                 {"gender": GENDER_KM, "exit_reason": reasons, "activity": act_sv},
                 pnr_styles=("long_dash", "short_dash"))
    b = SheetBuilder(lay)
    b.title("Deltagarlista – Integrationsprojekt – Bergs kommun")
    b.title(f"Rapportdatum: {R}")
    b.blank()
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["berg"]]
    b.rows = b.rows[:4]
    p, s = extra("berg")
    place(rng, rows, [Row("data", lay.render(View(p, "berg", s, None, "job_seeking", A())),
                          ("outcome_without_exit",), note="Avslutsorsak without Slutdatum")])
    b.rows += rows
    b.total(f"Summa deltagare: {sum(1 for r in rows if not r.rules)}")
    f = FileM("berg_deltagarlista_2016.xlsx", "xlsx", "enrolments", R, [], "Deltagarlista",
              "xlsx; sheet `Deltagarlista`; title rows 1–3 (title, `Rapportdatum: …` as text, blank), header "
              "row 4; date cells; a closing `Summa deltagare: N` row.")
    f.sheets = [SheetM("Deltagarlista", b.rows, [16, 12, 14, 6, 12, 12, 20, 24])]
    files.append(f)

    # Bräcke: UTF-8 BOM, `,`
    lay = Layout([("Personnummer", "pnr"), ("Kön", "gender"), ("Startdatum", "start"), ("Slutdatum", "end"),
                  ("Avslutsorsak", "reason"), ("Aktivitet", "activity"), ("Utbildningsnivå", "education")],
                 {"gender": GENDER_KM, "exit_reason": reasons, "activity": act_sv, "education": EDU},
                 dates="%Y-%m-%d", pnr_styles=("long",))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["bracke"]]
    b.rows = b.rows[:1]
    p, s = extra("bracke")
    v = View(p, "bracke", s, None, None, A())
    v.raw["pnr"] = bad_luhn(pnr_text(p, "long"))
    place(rng, rows, [Row("data", lay.render(v), ("invalid_personnummer",), note="check digit (Luhn) wrong")])
    b.rows += rows
    f = FileM("bracke_export.csv", "csv", "enrolments", R, [], "csv",
              "CSV: UTF-8 with BOM, `,` separated; dates `%Y-%m-%d`; 12-digit personnummer.", bom=True)
    f.sheets = [SheetM("csv", b.rows)]
    files.append(f)

    # Ragunda: xlsx, an overview sheet first, participants on `Deltagarlista`; one impossible text date.
    lay = Layout([("Personnummer", "pnr"), ("Kön", "gender"), ("Inskrivningsdatum", "start"),
                  ("Avslutsdatum", "end"), ("Avslutsorsak", "reason"), ("Insats", "activity")],
                 {"gender": GENDER_WORD, "exit_reason": reasons, "activity": act_sv},
                 pnr_styles=("long_dash", "short_space"))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["ragunda"]]
    b.rows = b.rows[:1]
    p, s = extra("ragunda")
    v = View(p, "ragunda", s, None, None, A())
    v.raw["end"] = "2016-02-30"
    place(rng, rows, [Row("data", lay.render(v), ("invalid_date",),
                          note="Avslutsdatum typed as the text `2016-02-30` (no such day)")])
    b.rows += rows
    n_r = sum(1 for r in rows if not r.rules)
    overview = [Row("title", ["Integrationsprojekt Ragunda – översikt"]), Row("title", []),
                Row("title", ["Inskrivna deltagare", n_r]),
                Row("title", ["Varav avslutade", sum(1 for r in rows if not r.rules and r.rec.end)])]
    f = FileM("ragunda_integration.xlsx", "xlsx", "enrolments", R, [], "Deltagarlista",
              "xlsx with an `Översikt` sheet first and the list on the second sheet `Deltagarlista` (by "
              "name); date cells; `Kvinna`/`Man`; one personnummer with a stray space after the dash.")
    f.sheets = [SheetM("Översikt", overview, [40, 10]), SheetM("Deltagarlista", b.rows, [16, 8, 16, 16, 20, 24])]
    files.append(f)

    # Härjedalen: tab-separated .txt, UTF-8, dates %d/%m/%Y
    lay = Layout([("PNR", "pnr"), ("KON", "gender"), ("STARTDATUM", "start"), ("SLUTDATUM", "end"),
                  ("AVSLUTSORSAK", "reason"), ("INSATS", "activity")],
                 {"gender": GENDER_KM, "exit_reason": reasons, "activity": act_sv},
                 dates="%d/%m/%Y", pnr_styles=("long",))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["harjedalen"]]
    b.rows = b.rows[:1]
    p, s = extra("harjedalen", age=80)
    place(rng, rows, [Row("data", lay.render(View(p, "harjedalen", s, None, None, A())), ("age_out_of_range",),
                          note="80 years old at the start")])
    b.rows += rows
    f = FileM("harjedalen_deltagare.txt", "csv", "enrolments", R, [], "csv",
              "tab-separated text (`.txt`), UTF-8 without BOM; upper-case headers; dates `%d/%m/%Y` "
              "(declared in the pipeline); 12-digit personnummer.", delimiter="\t")
    f.sheets = [SheetM("csv", b.rows)]
    files.append(f)

    intro = ("Integrationsprojekt (ESF 2014–2020), Region Jämtland Härjedalen and all eight municipalities, "
             "2015-09-01 – 2018-03-31. At the report date 2016-10-31 the data reproduce the seed's figures: "
             "286 enrolments (90 women, 196 men), 259 individuals (27 took part in two municipalities, so "
             "each is in two sub-projects), 123 exited: 53 to work (10 of them subsidised), 7 to studies, 21 "
             "to other, and — the seed does not say — 30 to job seeking and 12 with no exit reason.")

    def check(ov):
        t = ov["project"]
        assert t["total"]["enrolments"] == 286 * scale, t["total"]
        assert t["woman"]["enrolments"] == 90 * scale and t["man"]["enrolments"] == 196 * scale, t
        assert t["total"]["participants"] == 259 * scale, t["total"]
        assert t["total"]["exited"] == 123 * scale, t["total"]
        assert t["total"]["exits_work"] == 53 * scale, t["total"]
        assert t["total"]["exits_studies"] == 7 * scale, t["total"]
        assert t["total"]["exits_other"] == 21 * scale, t["total"]
        assert t["total"]["exits_job_seeking"] + t["total"]["exits_no_outcome"] == 42 * scale, t["total"]

    return ProjectOut(pid, "Integrationsprojekt", R, [(s[0], s[1], s[2]) for s in subs], files, truth, intro,
                      [check])


# --- 003 Målmedveten på hemmaplan ---------------------------------------------------------------------

def project_003(scale: int) -> ProjectOut:
    pid = "halland_malmedveten"
    rng = random.Random(f"{SEED}-{pid}")
    people = People(rng)
    R = D(2022, 6, 30)
    subs = [("hylte", "Hylte", "1315", 150), ("falkenberg", "Falkenberg", "1382", 220), ("laholm", "Laholm", "1381", 160)]
    reasons = {"work": 20, "work_subsidised": 12, "studies": 15, "job_seeking": 28, "other": 17, "none": 8}
    acts = {"mapping": 20, "work_training": 30, "health": 15, "guidance": 15, "language": 10, "social_support": 10}

    def A(track):
        a = attrs_common(rng, acts, {"yes": 40, "no": 58, "refused": 2}, {"yes": 30, "no": 65, "refused": 5})
        a["referral"] = track
        a["labour"] = weighted(rng, {"long_term_unemployed": 60, "unemployed": 15, "inactive": 25})
        a["ltu"] = "yes" if a["labour"] == "long_term_unemployed" else "no"
        return a

    def outcome(s):
        end = s + dt.timedelta(days=rng.randint(60, 600))
        if end > R:
            if rng.random() < 0.5:
                return None, None
            end = R  # closed when the project ended
        r = weighted(rng, reasons)
        return end, (None if r == "none" else r)

    truth = []
    for sid, _, _, n in subs:
        for i in range(n * scale):
            s = rand_date(rng, D(2020, 3, 2), D(2022, 5, 31))
            track = ("employment_service" if rng.random() < 0.55 else "social_services")
            kind = "protected_identity" if (sid == "hylte" and i == 17) else "personnummer"
            reentry = (sid != "laholm" and i in (5, 40)) or (sid == "laholm" and i in (3, 9))
            if reentry:
                # An interrupted first period (Avbrott), then a second start in the same municipality; in
                # Laholm the person was first referred by social services, later by Arbetsförmedlingen.
                s = rand_date(rng, D(2020, 3, 2), D(2021, 3, 31))
                e1 = s + dt.timedelta(days=rng.randint(40, 120))
                s2 = e1 + dt.timedelta(days=rng.randint(30, 120))
                p = people.new(rng.random() < 0.5, people.birth_for([s, s2]), kind)
                t1 = "social_services" if sid == "laholm" else track
                t2 = "employment_service" if sid == "laholm" else track
                truth.append(Enrol(p, sid, s, e1, "other", A(t1)))
                end, reason = outcome(s2)
                truth.append(Enrol(p, sid, s2, end, reason, A(t2)))
                continue
            p = people.new(rng.random() < 0.5, people.birth_for([s]), kind)
            end, reason = outcome(s)
            truth.append(Enrol(p, sid, s, end, reason, A(track)))
    by_sub = defaultdict(list)
    for e in sorted(truth, key=lambda e: (e.start, e.p.pnr)):
        by_sub[e.sub].append(e)

    def extra(sub, woman=True, age=None, track="employment_service"):
        s = rand_date(rng, D(2020, 3, 2), D(2022, 5, 31))
        if age is None:
            return people.person(woman, [s]), s, A(track)
        return people.new(woman, birth_aged(rng, s, age)), s, A(track)

    reason_sp = {"work": ["Arbete", "Anställning"],
                 "work_subsidised": ["Subventionerad anställning", "Lönebidrag", "Introduktionsjobb"],
                 "studies": ["Studier", "Utbildning"],
                 "job_seeking": ["Åter till Arbetsförmedlingen", "Arbetssökande"],
                 "other": ["Avbrott", "Sjukskriven", "Annat"]}
    act_sp = {"mapping": "Kartläggning", "work_training": ["Arbetsträning", "Praktik"], "health": "Hälsoinsats",
              "guidance": "Studie- och yrkesvägledning", "language": "SFI", "social_support": "Motiverande samtal"}
    ref_sp = {"employment_service": ["Arbetsförmedlingen", "AF"], "social_services": ["Socialtjänsten", "Soc"]}
    files = []

    # Hylte (project owner): xlsx with title rows, a Summa row and a summary sheet after the list.
    lay = Layout([("Personnummer", "pnr"), ("Förnamn", "first"), ("Efternamn", "last"), ("Kön", "gender"),
                  ("Anvisad från", "referral"), ("Startdatum", "start"), ("Slutdatum", "end"),
                  ("Avslutsorsak", "reason"), ("Insats", "activity"), ("Utbildningsnivå", "education"),
                  ("Arbetsmarknadsstatus", "labour"), ("Långtidsarbetslös", "ltu"),
                  ("Funktionsnedsättning", "disability"), ("Timmar", "hours")],
                 {"gender": GENDER_KM, "referral": ref_sp, "exit_reason": reason_sp, "activity": act_sp,
                  "education": EDU, "labour": LABOUR, "ltu": {"yes": "Ja", "no": "Nej"}, "disability": YES_NO},
                 pnr_styles=("long_dash", "long_dash", "short_dash"))
    b = SheetBuilder(lay)
    b.title("Deltagarförteckning – Målmedveten på hemmaplan – Hylte kommun")
    b.title(f"Rapportdatum: {R}")
    b.blank()
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["hylte"]]
    b.rows = b.rows[:4]
    for r in rows:
        if r.rec and r.rec.pnr[8:10] == "TF":
            r.note = "protected identity: SCB placeholder `YYYYMMDDTFNN` (loads, id_kind protected_identity)"
    p, s, a = extra("hylte")
    v = View(p, "hylte", s, None, None, a)
    v.raw["pnr"] = bad_luhn(pnr_text(p, "long_dash"))
    place(rng, rows, [Row("data", lay.render(v), ("invalid_personnummer",), note="check digit (Luhn) wrong")])
    k = rng.randint(5, len(rows) - 5)
    rows.insert(k + 1, Row("data", list(rows[k].cells), ("duplicate_row",), note="exact copy of the row above"))
    rows.insert(len(rows) // 2, Row("blank", [], note="blank row in the middle"))
    b.rows += rows
    b.total("Summa", *([None] * 12), sum(r.cells[13] for r in rows if r.kind == "data" and not r.rules))
    tr = Counter(r.rec.start.year for r in rows if r.rec)
    summary = [Row("header", ["År", "Antal inskrivna"])] + [Row("data", [str(y), n]) for y, n in sorted(tr.items())]
    f = FileM("hylte_deltagarforteckning.xlsx", "xlsx", "enrolments", R, [], "Deltagare",
              "xlsx; sheet `Deltagare` (a `Summering` sheet follows it); title rows 1–3, header row 4; date "
              "cells; `Anvisad från` = referral source (`Arbetsförmedlingen`/`AF`, `Socialtjänsten`/`Soc`); "
              "`Långtidsarbetslös` Ja/Nej; a blank row in the middle and a `Summa` row.")
    f.sheets = [SheetM("Deltagare", b.rows, [16, 12, 14, 6, 20, 12, 12, 28, 28, 16, 20, 16, 20, 8], merge_title=8),
                SheetM("Summering", summary, [8, 16])]
    files.append(f)

    # Falkenberg: Windows-1252 `;` CSV, decimal comma, encoding left to auto-detection.
    lay = Layout([("Personnummer", "pnr"), ("Kön", "gender"), ("Anvisande myndighet", "referral"),
                  ("Inskrivningsdatum", "start"), ("Avslutsdatum", "end"), ("Avslutsorsak", "reason"),
                  ("Aktivitet", "activity"), ("Utbildningsnivå", "education"), ("Arbetsmarknadsstatus", "labour"),
                  ("Timmar", "hours")],
                 {"gender": GENDER_WORD, "referral": ref_sp, "exit_reason": reason_sp, "activity": act_sp,
                  "education": EDU_LONG, "labour": LABOUR},
                 dates="%Y-%m-%d", hours="comma", pnr_styles=("long_dash", "short_dash", "long"))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in by_sub["falkenberg"]]
    b.rows = b.rows[:1]
    errs = []
    p, s, a = extra("falkenberg", woman=False)
    v = View(p, "falkenberg", s, None, None, a)
    v.raw["pnr"] = sci_notation(p)
    errs.append(Row("data", lay.render(v), ("invalid_personnummer",),
                    note=f"`{v.raw['pnr']}`: Excel scientific notation"))
    p, s, a = extra("falkenberg")
    v = View(p, "falkenberg", s, None, None, a)
    v.raw["end"] = "2021-13-45"
    errs.append(Row("data", lay.render(v), ("invalid_date",), note="Avslutsdatum `2021-13-45`"))
    p, s, a = extra("falkenberg", track="social_services")
    v = View(p, "falkenberg", s, None, None, a)
    v.raw["referral"] = "Psykiatrin"
    errs.append(Row("data", lay.render(v), ("unknown_value",),
                    note="Anvisande myndighet `Psykiatrin` is in no value map"))
    place(rng, rows, errs)
    b.rows += rows
    f = FileM("falkenberg_deltagare_2022-06-30.csv", "csv", "enrolments", R, [], "csv",
              "CSV: Windows-1252 (not declared: left to auto-detection), `;` separated, decimal comma; "
              "dates `%Y-%m-%d`; three personnummer forms; education in long words.",
              encoding="cp1252", delimiter=";")
    f.sheets = [SheetM("csv", b.rows)]
    files.append(f)

    # Laholm: two tracks kept in two systems.
    laholm_af = [e for e in by_sub["laholm"] if e.a["referral"] == "employment_service"]
    laholm_soc = [e for e in by_sub["laholm"] if e.a["referral"] == "social_services"]
    lay = Layout([("Pnr", "pnr"), ("Förnamn", "first"), ("Efternamn", "last"), ("Kön", "gender"),
                  ("Anvisning", "referral"), ("Startdatum", "start"), ("Slutdatum", "end"),
                  ("Orsak till avslut", "reason"), ("Timmar", "hours")],
                 {"gender": GENDER_KM, "referral": {"employment_service": "Arbetsförmedlingen"},
                  "exit_reason": reason_sp}, pnr_styles=("long_dash",))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in laholm_af]
    b.rows = b.rows[:1]
    errs = []
    p, s, a = extra("laholm")
    errs.append(Row("data", lay.render(View(p, "laholm", s, s - dt.timedelta(days=10), "work", a)),
                    ("end_before_start",), note="Slutdatum 10 days before Startdatum"))
    p, s, a = extra("laholm", woman=False, age=12)
    errs.append(Row("data", lay.render(View(p, "laholm", s, None, None, a)), ("age_out_of_range",),
                    note="12 years old at the start (birth year mistyped)"))
    place(rng, rows, errs)
    b.rows += rows
    f = FileM("laholm_af_sparet.xls", "xls", "enrolments", R, [], "AF-spåret",
              "BIFF8 .xls for the Arbetsförmedlingen track; sheet `AF-spåret`; header row 1; date cells; "
              "`Anvisning` is always `Arbetsförmedlingen`.")
    f.sheets = [SheetM("AF-spåret", b.rows, [16, 12, 14, 6, 20, 12, 12, 28, 8])]
    files.append(f)

    lay = Layout([("Personnummer", "pnr"), ("Kön", "gender"), ("Remittent", "referral"), ("Datum in", "start"),
                  ("Datum ut", "end"), ("Avslutsorsak", "reason"), ("Insats", "activity")],
                 {"gender": GENDER_LOWER, "referral": {"social_services": ["Socialtjänsten", "Soc"]},
                  "exit_reason": reason_sp, "activity": act_sp}, pnr_styles=("long_dash", "long"))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in laholm_soc]
    b.rows = b.rows[:1]
    p, s, a = extra("laholm", track="social_services")
    place(rng, rows, [Row("data", lay.render(View(p, "laholm", s, None, "studies", a)), ("outcome_without_exit",),
                          note="Avslutsorsak without Datum ut")])
    b.rows += rows
    f = FileM("laholm_soc_sparet.ods", "ods", "enrolments", R, [], "Soc",
              "OpenDocument spreadsheet for the social-services track; sheet `Soc`; header row 1; date cells; "
              "`Remittent` = `Socialtjänsten`/`Soc`; `k`/`m`.")
    f.sheets = [SheetM("Soc", b.rows)]
    files.append(f)

    intro = ("Målmedveten på hemmaplan (2019/00431, ESF 2014–2020), Hylte (owner), Falkenberg and Laholm, "
             "530 planned participants, two tracks by referral (Arbetsförmedlingen / socialtjänsten, column "
             "`referral_source`). Six people have two enrolments in the same municipality (an interrupted "
             "first period, then a new start; in Laholm first via social services, then via "
             "Arbetsförmedlingen), so enrolments exceed participants. Report date 2022-06-30 (project end).")

    def check(ov):
        assert ov["project"]["total"]["participants"] == 530 * scale, ov["project"]["total"]

    return ProjectOut(pid, "Målmedveten på hemmaplan", R, [(s[0], s[1], s[2]) for s in subs], files, truth, intro,
                      [check])


# --- 004 Förstudie Härnösand (ESF+) with activities ---------------------------------------------------

STEPS = ["mapping", "language", "adult_education", "vocational_training", "work_training", "matching",
         "employment"]


def project_004(scale: int) -> ProjectOut:
    pid = "harnosand_forstudie_samverkan"
    rng = random.Random(f"{SEED}-{pid}")
    people = People(rng)
    R = D(2023, 11, 6)
    truth, acts_truth = [], []
    providers = {"mapping": "Arbetsmarknadsenheten", "language": "SFI Härnösand", "adult_education": "Komvux Härnösand",
                 "vocational_training": "Komvux Härnösand", "work_training": ["Arbetsmarknadsenheten", "Höga Kusten Bygg AB"],
                 "matching": "Arbetsförmedlingen", "employment": ["Höga Kusten Bygg AB", "Härnösands kommun"]}
    for i in range(40 * scale):
        s = rand_date(rng, D(2023, 2, 13), D(2023, 7, 31))
        woman = rng.random() < 0.5
        kind = "samordningsnummer" if i == 11 else "personnummer"
        p = people.new(woman, people.birth_for([s], 19, 60, 30), kind)
        # Path: always a mapping first, then consecutive steps from an entry step that depends on where the
        # person stands (SFI for newly arrived, vocational training for those with school, …).
        entry = weighted(rng, {1: 35, 2: 20, 3: 20, 4: 15, 5: 10})
        n_more = rng.randint(1, 4)
        steps = ["mapping"] + STEPS[entry:entry + n_more]
        t = s
        acts = []
        for j, st in enumerate(steps):
            length = {"mapping": (14, 35), "language": (60, 120), "adult_education": (45, 100),
                      "vocational_training": (60, 120), "work_training": (30, 90), "matching": (14, 45),
                      "employment": (30, 60)}[st]
            a_end = t + dt.timedelta(days=rng.randint(*length))
            prov = providers[st] if isinstance(providers[st], str) else rng.choice(providers[st])
            hours = rng.randint(8, 60) * 2 if st != "employment" else rng.randint(80, 300)
            if a_end > R or st == "employment":
                acts.append((st, prov, t, None if a_end > R or st == "employment" else a_end, float(hours)))
                break
            acts.append((st, prov, t, a_end, float(hours)))
            t = a_end + dt.timedelta(days=rng.randint(1, 14))
            if t > R - dt.timedelta(days=5):
                break
        last = acts[-1]
        if last[0] == "employment":
            end, reason = last[2], ("work_subsidised" if last[1] == "Härnösands kommun" else "work")
        elif last[3] is None:
            end, reason = None, None
        else:
            end = last[3]
            reason = {"matching": "job_seeking", "adult_education": "studies", "vocational_training": "studies",
                      "language": "studies"}.get(last[0], "other")
        a = {"education": weighted(rng, {"isced_0_2": 45, "isced_3_4": 35, "isced_5_8": 10, "unknown": 10}),
             "labour": weighted(rng, {"unemployed": 35, "long_term_unemployed": 40, "inactive": 25}),
             "foreign_born": "yes" if entry == 1 else weighted(rng, {"yes": 30, "no": 70}),
             "disability": weighted(rng, {"yes": 15, "no": 80, "refused": 5})}
        truth.append(Enrol(p, "harnosand", s, end, reason, a))
        for st, prov, a_s, a_e, h in acts:
            acts_truth.append((p, st, prov, a_s, a_e, h))
    truth.sort(key=lambda e: (e.start, e.p.pnr))

    reason_sp = {"work": "Arbete", "work_subsidised": "Anställning med stöd", "studies": "Studier",
                 "job_seeking": "Arbetssökande", "other": "Annat"}
    files = []
    lay = Layout([("Personnummer", "pnr"), ("Förnamn", "first"), ("Efternamn", "last"), ("Kön", "gender"),
                  ("Startdatum", "start"), ("Slutdatum", "end"), ("Avslutsorsak", "reason"),
                  ("Utbildningsnivå", "education"), ("Arbetsmarknadsstatus", "labour"),
                  ("Utrikes född", "foreign_born"), ("Funktionsnedsättning", "disability")],
                 {"gender": GENDER_KM, "exit_reason": reason_sp, "education": EDU, "labour": LABOUR,
                  "foreign_born": YES_NO, "disability": YES_NO}, pnr_styles=("long_dash",))
    b = SheetBuilder(lay)
    b.header()
    rows = [b.enrol(e, R) for e in truth]
    b.rows = b.rows[:1]
    errs = []
    s = rand_date(rng, D(2023, 3, 1), D(2023, 6, 30))
    p = people.person(True, [s])
    v = View(p, "harnosand", s, None, None, truth[0].a)
    v.raw["pnr"] = bad_luhn(pnr_text(p, "long_dash"))
    errs.append(Row("data", lay.render(v), ("invalid_personnummer",), note="check digit (Luhn) wrong"))
    s = rand_date(rng, D(2023, 3, 1), D(2023, 6, 30))
    p = people.person(False, [s])
    errs.append(Row("data", lay.render(View(p, "harnosand", s, None, "work", truth[1].a)), ("outcome_without_exit",),
                    note="Avslutsorsak `Arbete` without Slutdatum"))
    place(rng, rows, errs)
    b.rows += rows
    f = FileM("harnosand_deltagare_2023-11-06.xlsx", "xlsx", "enrolments", R, [], "Deltagare",
              "enrolments: xlsx, sheet `Deltagare`, header row 1, date cells, export date in the file name.")
    f.sheets = [SheetM("Deltagare", b.rows, [16, 12, 14, 6, 12, 12, 22, 16, 20, 12, 20])]
    files.append(f)

    # Activities, two sources: the labour-market unit's list (AME, Arbetsförmedlingen, employers) and the
    # school system's list (SFI, Komvux).
    school = {"language", "adult_education", "vocational_training"}
    a_sp = {"mapping": "Kartläggning", "work_training": ["Arbetsträning", "Praktik"], "matching": "Matchning",
            "employment": "Anställning"}
    ame_rows = [Row("header", ["Personnummer", "Aktivitet", "Anordnare", "Startdatum", "Slutdatum", "Timmar"])]
    sch_rows = [Row("header", ["Personnummer", "Kurs", "Skola", "Kursstart", "Kursslut", "Timmar"])]
    course = {"language": ["SFI kurs B", "SFI kurs C", "SFI kurs D"],
              "adult_education": ["Komvux grundläggande", "Komvux gymnasial"],
              "vocational_training": ["Yrkesutbildning vård och omsorg", "Lärlingsutbildning bygg"]}
    ame_data, sch_data = [], []
    for p, st, prov, a_s, a_e, h in sorted(acts_truth, key=lambda x: (x[3], x[0].pnr)):
        rec = ActRec("harnosand", p.pnr, st, prov, a_s, a_e, h)
        if st in school:
            sch_data.append(Row("data", [pnr_text(p, "long"), pick(p.pnr + st, course[st]), prov, a_s.strftime("%Y-%m-%d"),
                                         a_e.strftime("%Y-%m-%d") if a_e else "", f"{h:g}".replace(".", ",")], rec=rec))
        else:
            ame_data.append(Row("data", [pnr_text(p, "long_dash"), pick(p.pnr + st, a_sp[st]), prov, a_s, a_e, h],
                                rec=rec))
    # Deliberate activity errors (real participants, dates that do not collide with their other rows).
    e1 = truth[3]
    ame_err = [Row("data", [pnr_text(e1.p, "long_dash"), "Studiebesök", "Arbetsmarknadsenheten",
                            e1.start + dt.timedelta(days=3), e1.start + dt.timedelta(days=3), 4.0],
                   ("unknown_value",), note="Aktivitet `Studiebesök` is in no value map"),
               Row("data", [pnr_text(truth[5].p, "long_dash"), None, "Arbetsmarknadsenheten",
                            truth[5].start + dt.timedelta(days=5), None, 12.0],
                   ("missing_required",), note="Aktivitet empty")]
    place(rng, ame_data, ame_err)
    fa = FileM("aktiviteter_ame_2023-11-06.xlsx", "xlsx", "activities", R, [], "Aktiviteter",
               "activities from Arbetsmarknadsenheten (mapping, work training, matching by Arbetsförmedlingen, "
               "employment): xlsx, sheet `Aktiviteter`, header row 1, date cells, hours as numbers.")
    fa.sheets = [SheetM("Aktiviteter", ame_rows + ame_data, [16, 20, 24, 12, 12, 8])]
    files.append(fa)
    fs = FileM("aktiviteter_komvux_sfi.csv", "csv", "activities", R, [], "csv",
               "activities from the school system (SFI, Komvux, vocational courses): CSV, UTF-8 with BOM, `;` "
               "separated, decimal comma; course names mapped to activity types in the pipeline.",
               bom=True, delimiter=";")
    fs.sheets = [SheetM("csv", sch_rows + sch_data)]
    files.append(fs)

    intro = ("Förstudie modell för samverkan kring individer (22-026-S02, ESF+ 2021–2027), Härnösands kommun, "
             "2023-02-06 – 2023-11-06. A small sample (~40 participants) with an enrolment list and two "
             "activity sources describing each participant's path: mapping → language (SFI) → adult "
             "education → vocational training → work training → matching → employment. Report date "
             "2023-11-06 (project end).")
    return ProjectOut(pid, "Förstudie modell för samverkan kring individer", R,
                      [("harnosand", "Härnösand", "2280")], files, truth, intro, [])


# ---------------------------------------------------------------------------------------------------------
# Expected figures (docs/semantics.md)

COUNT_KEYS = ["enrolments", "participants", "active", "exited", "exits_work", "exits_studies",
              "exits_job_seeking", "exits_other", "exits_no_outcome"]
OUTCOME = {"work": "work", "work_subsidised": "work", "studies": "studies", "job_seeking": "job_seeking",
           "other": "other"}


def loaded_records(files: list[FileM]) -> list[tuple]:
    out = []
    for f in files:
        if f.kind != "enrolments" or f.failed:
            continue
        for n, row in zip(row_numbers(f), f.sheet().rows):
            if row.kind == "data" and not row.rules:
                out.append((row.rec, f.export_date, f.rel, n))
    return out


def counts(enrols: list[Rec], report: D) -> dict:
    c = dict.fromkeys(COUNT_KEYS, 0)
    c["enrolments"] = len(enrols)
    per = defaultdict(list)
    for e in enrols:
        per[e.pnr].append(e)
    for pnr in sorted(per):
        lst = per[pnr]
        c["participants"] += 1
        if any(e.end is None or e.end > report for e in lst):
            c["active"] += 1
            continue
        c["exited"] += 1
        latest = max(e.end for e in lst)
        last = [e for e in lst if e.end == latest]
        assert len(last) == 1, f"tie between exits of one participant: {last}"  # no ties in the samples
        r = last[0].reason
        c["exits_no_outcome" if r is None else f"exits_{OUTCOME[r]}"] += 1
    return c


def overview(out: ProjectOut) -> dict:
    scope = [rec for rec in enrolment_versions(out) if rec.start <= out.report_date]

    def split(es):
        return {"total": counts(es, out.report_date),
                "woman": counts([e for e in es if e.woman], out.report_date),
                "man": counts([e for e in es if not e.woman], out.report_date)}

    return {"project": split(scope),
            "subprojects": {sid: split([e for e in scope if e.sub == sid]) for sid, _, _ in out.subprojects}}


def file_stats(f: FileM) -> dict:
    if f.failed:
        return {"status": "failed", "rows_read": 0, "rows_loaded": 0, "rows_rejected": 0, "rows_skipped": 0}
    rows = f.sheet().rows
    h = next(i for i, r in enumerate(rows) if r.kind == "header")
    body = [r for i, r in enumerate(rows) if i != h and r.kind != "empty_line"]
    skipped = sum(1 for r in body if r.kind in ("title", "blank", "total"))
    rejected = sum(1 for r in body if r.kind == "data" and r.rules)
    loaded = sum(1 for r in body if r.kind == "data" and not r.rules)
    assert skipped + rejected + loaded == len(body)
    return {"status": "loaded", "rows_read": len(body), "rows_loaded": loaded, "rows_rejected": rejected,
            "rows_skipped": skipped}


def expected(out: ProjectOut, cfg: dict | None = None) -> dict:
    """cfg: the project's pipeline (for the programme, the period and the targets: inputs, not figures);
    without it the marts that need them are left out."""
    rules = Counter(rule for f in out.files if not f.failed for r in f.sheet().rows for rule in r.rules)
    return {"report_date": out.report_date.isoformat(),
            "files": {f.rel: file_stats(f) for f in sorted(out.files, key=lambda f: f.rel)},
            "rejects_by_rule": dict(sorted(rules.items())),
            "overview": overview(out),
            **expected_marts(out, cfg)}


# ---------------------------------------------------------------------------------------------------------
# Expected marts (esf_indicators, target_followup, monthly_active, method_outcomes, pathway_steps,
# pathway_transitions), computed from the ground truth behind the rows that load: each loaded enrolment row
# knows the Enrol it was rendered from and which fields its layout carries, each loaded activity row its
# ActRec. The definitions follow docs/semantics.md (enrolments deduplicated across exports, the latest
# export winning; a participant merged per scope at the report date; characteristics from the first
# enrolment) and the mart descriptions; nothing here reads the warehouse or runs SQL.

# Layout field -> canonical field, for the attributes the marts use ("country" is read as foreign_born).
LAYOUT_CANONICAL = {"pnr": "personnummer", "gender": "gender", "start": "start_date", "end": "end_date",
                    "reason": "exit_reason", "activity": "activity_type", "foreign_born": "foreign_born",
                    "country": "foreign_born", "disability": "disability", "education": "education_level",
                    "labour": "labour_status", "ltu": "long_term_unemployed", "referral": "referral_source",
                    "hours": "hours", "kommunkod": "municipality_code"}

# The indicator codes of each programme and what each counts (Reg. (EU) 1304/2013 Annex I for ESF
# 2014–2020, Reg. (EU) 2021/1057 Annex I for ESF+). third_country_national and qualification_gained are
# in no sample layout, so EECO13, CR03 and EECR03 must come out "not available".
ESF_CODES = {
    "esf_2014_2020": {"TOTAL": "total", "CO01": "unemployed", "CO02": "long_term_unemployed", "CO03": "inactive",
                      "CO05": "employed", "CO06": "age_below_25", "CO07": "age_above_54", "CO09": "isced_0_2",
                      "CO10": "isced_3_4", "CO11": "isced_5_8", "CO15": "foreign_background",
                      "CO16": "disability", "CR01": "inactive_to_job_seeking", "CR02": "exit_studies",
                      "CR03": "qualification", "CR04": "exit_work"},
    "esf_plus_2021_2027": {"EECO01": "total", "EECO02": "unemployed", "EECO03": "long_term_unemployed",
                           "EECO04": "inactive", "EECO05": "employed", "EECO06": "age_below_18",
                           "EECO07": "age_18_29", "EECO08": "age_55_plus", "EECO09": "isced_0_2",
                           "EECO10": "isced_3_4", "EECO11": "isced_5_8", "EECO12": "disability",
                           "EECO13": "third_country_national", "EECO14": "foreign_background",
                           "EECR01": "exit_job_seeking", "EECR02": "exit_studies", "EECR03": "qualification",
                           "EECR04": "exit_work"},
}
PATH_STEPS = {s: i for i, s in enumerate(STEPS, start=1)}


def enrolment_versions(out: ProjectOut) -> list[Rec]:
    """The enrolments table: one Rec per (sub-project, person, start), the latest export winning (ties: the
    path that sorts last, then the higher row number)."""
    winners: dict[tuple, tuple] = {}
    for rec, export, path, row in loaded_records(out.files):
        key = (rec.sub, rec.pnr, rec.start)
        rank = (export, path, row)
        if key not in winners or rank > winners[key][0]:
            winners[key] = (rank, rec)
    return [rec for _, rec in winners.values()]


def loaded_activities(out: ProjectOut) -> list[ActRec]:
    """The activities table: loaded activity rows, one per (sub-project, person, type, provider, start)."""
    winners: dict[tuple, tuple] = {}
    for f in out.files:
        if f.kind != "activities" or f.failed:
            continue
        for n, row in zip(row_numbers(f), f.sheet().rows):
            if row.kind == "data" and not row.rules:
                r = row.rec
                key = (r.sub, r.pnr, r.activity_type, r.provider or "", r.start)
                rank = (f.export_date, f.rel, n)
                if key not in winners or rank > winners[key][0]:
                    winners[key] = (rank, r)
    return [r for _, r in winners.values()]


@dataclass
class Merged:
    """A person within a scope at the report date (docs/semantics.md, "participant within a scope")."""
    pnr: str
    woman: bool
    first_start: D
    active: bool
    exit_date: D | None
    outcome: str | None  # work (incl. subsidised) | studies | job_seeking | other | None


def merge(recs: list[Rec], report: D) -> dict[str, Merged]:
    per = defaultdict(list)
    for r in recs:
        if r.start <= report:
            per[r.pnr].append(r)
    out = {}
    for pnr, lst in per.items():
        active = any(r.end is None or r.end > report for r in lst)
        exit_date = outcome = None
        if not active:
            # the latest end date; ties: the later start, then the outcome's alphabetical order (null last)
            exit_date = max(r.end for r in lst)
            last = [r for r in lst if r.end == exit_date]
            last = [r for r in last if r.start == max(x.start for x in last)]
            outcome = min((OUTCOME.get(r.reason) for r in last), key=lambda o: (o is None, o or ""))
        out[pnr] = Merged(pnr, lst[0].woman, min(r.start for r in lst), active, exit_date, outcome)
    return out


def entry_characteristics(r: Rec) -> dict:
    """What an enrolment row says about the person at entry: None where its layout has no such column."""
    a, has = r.e.a, set(r.fields)
    labour = a["labour"] if "labour" in has else None
    if "ltu" in has:
        ltu = a["ltu"] == "yes"
    elif labour is not None and labour != "unknown":
        ltu = labour == "long_term_unemployed"
    else:
        ltu = None  # not stated (a labour status "unknown" says nothing about the duration either)
    return {
        "age": age_at(r.e.p.birth, r.start),
        "labour": "unemployed" if labour == "long_term_unemployed" else labour,
        "ltu": ltu,
        "education": a["education"] if "education" in has else None,
        "foreign_born": a["foreign_born"] if ("foreign_born" in has or "country" in has) else None,
        "disability": a["disability"] if "disability" in has else None,
        "third_country_national": None,  # no layout carries it
        "qualification": None,  # no layout carries it
    }


def participant_entry(recs: list[Rec], report: D) -> list[tuple[Merged, dict]]:
    """Each person in the project, merged at the report date, with the characteristics of the first
    enrolment (earliest start; same day: the sub-project id that sorts first)."""
    merged = merge(recs, report)
    first = {}
    for r in sorted((r for r in recs if r.start <= report), key=lambda r: (r.start, r.sub)):
        first.setdefault(r.pnr, r)
    return [(merged[p], entry_characteristics(first[p])) for p in sorted(merged)]


def indicator(flag: str, m: Merged, c: dict) -> tuple[bool, bool]:
    """(counts, the data exist) for one person and indicator."""
    exited_to = lambda o: (not m.active and m.outcome == o, m.outcome is not None)  # noqa: E731
    lab = c["labour"]
    return {
        "total": (True, True),
        "unemployed": (lab == "unemployed", lab is not None),
        "long_term_unemployed": (c["ltu"] is True, c["ltu"] is not None),
        "inactive": (lab == "inactive", lab is not None),
        "employed": (lab == "employed", lab is not None),
        "age_below_25": (c["age"] < 25, True),
        "age_above_54": (c["age"] > 54, True),
        "age_below_18": (c["age"] < 18, True),
        "age_18_29": (18 <= c["age"] <= 29, True),
        "age_55_plus": (c["age"] >= 55, True),
        "isced_0_2": (c["education"] == "isced_0_2", c["education"] is not None),
        "isced_3_4": (c["education"] == "isced_3_4", c["education"] is not None),
        "isced_5_8": (c["education"] == "isced_5_8", c["education"] is not None),
        "disability": (c["disability"] == "yes", c["disability"] is not None),
        "third_country_national": (c["third_country_national"] == "yes", c["third_country_national"] is not None),
        "foreign_background": (c["foreign_born"] == "yes", c["foreign_born"] is not None),
        "inactive_to_job_seeking": (lab == "inactive" and not m.active and m.outcome == "job_seeking",
                                    lab is not None and m.outcome is not None),
        "exit_job_seeking": exited_to("job_seeking"),
        "exit_studies": exited_to("studies"),
        "exit_work": exited_to("work"),
        "qualification": (not m.active and c["qualification"] is True, c["qualification"] is not None),
    }[flag]


def esf_indicators(people: list[tuple[Merged, dict]], programme: str) -> dict:
    """{code: {gender: {"value", "available"}}}: value = participants who count (among those with the data);
    an indicator no participant of the project has data for is not available (value null), never zero."""
    res = {}
    for code, flag in ESF_CODES[programme].items():
        marks = [(m, *indicator(flag, m, c)) for m, c in people]
        available = any(has for _, _, has in marks)
        res[code] = {}
        for g, keep in (("total", lambda m: True), ("woman", lambda m: m.woman), ("man", lambda m: not m.woman)):
            n = sum(1 for m, hit, has in marks if keep(m) and hit and has)
            res[code][g] = {"value": n if available else None, "available": available}
    return res


def target_followup(people: list[tuple[Merged, dict]], cfg: dict, report: D) -> dict:
    """Each target of the pipeline at the report date: the actual value (unique individuals) and the status
    (met / on_track / behind / not_met / no_data, as the target_followup mart describes them)."""
    pr = cfg["project"]
    ps, pe = pr["period_start"], pr["period_end"]
    elapsed = min(1.0, max(0.0, (report - ps).days / (pe - ps).days)) if pe != ps else None
    n = len(people)
    exited = sum(1 for m, _ in people if not m.active)
    res = {}
    for t in cfg.get("targets", []):
        metric, op, goal = t["metric"], t["op"], float(t["value"])
        to = set(t.get("outcomes", []))
        hits = sum(1 for m, _ in people if not m.active and m.outcome in to)
        actual = {"participants": float(n),
                  "share_women": (sum(1 for m, _ in people if m.woman) / n) if n else None,
                  "exits_to": float(hits),
                  "share_exits_to": (hits / exited) if exited else None}[metric]
        count_metric = metric in ("participants", "exits_to")
        ended = report >= pe
        reached = actual is not None and (actual >= goal if op == ">=" else actual <= goal)
        if actual is None:
            status = "no_data"
        elif reached and (ended or (op == ">=" and count_metric)):
            status = "met"
        elif ended:
            status = "not_met"
        elif op == ">=" and count_metric:
            status = "on_track" if elapsed is not None and actual >= goal * elapsed else "behind"
        else:
            status = "on_track" if reached else "behind"
        res[t["id"]] = {"actual_value": None if actual is None else round(actual, 6), "status": status}
    return res


def month_starts(first: D, last: D) -> list[D]:
    out, m = [], D(first.year, first.month, 1)
    while m <= last:
        out.append(m)
        m = D(m.year + m.month // 12, m.month % 12 + 1, 1)
    return out


def monthly_active(recs: list[Rec], out: ProjectOut, cfg: dict) -> dict:
    """Per scope and calendar month (project start to the report date), gender total: [participants active
    at some time in the month, first starts in the month, exits in the month] — starts and exits of the
    person merged in the scope at the report date; the last month counts up to the report date."""
    R = out.report_date
    pr = cfg["project"]
    months = month_starts(pr["period_start"], min(R, pr["period_end"]))

    def series(scope: list[Rec]) -> dict:
        scope = [r for r in scope if r.start <= R]
        merged = merge(scope, R)
        res = {}
        for m in months:
            nxt = D(m.year + m.month // 12, m.month % 12 + 1, 1)
            m_end = min(nxt - dt.timedelta(days=1), R)
            active = len({r.pnr for r in scope if r.start <= m_end and (r.end is None or r.end >= m)})
            starts = sum(1 for p in merged.values() if m <= p.first_start <= m_end)
            exits = sum(1 for p in merged.values() if not p.active and m <= p.exit_date <= m_end)
            res[m.isoformat()] = [active, starts, exits]
        return res

    return {"project": series(recs),
            "subprojects": {sid: series([r for r in recs if r.sub == sid]) for sid, _, _ in out.subprojects}}


def method_outcomes(recs: list[Rec], acts: list[ActRec], people: list[tuple[Merged, dict]], R: D) -> dict:
    """Per activity type (from the activity logs and the activity column of enrolment lists, up to the report
    date), gender total: participants who took part, how many of them have exited, and how many of those
    exits went to work (incl. subsidised) or studies."""
    took = defaultdict(set)
    for r in recs:
        if r.start <= R and "activity" in r.fields:
            took[r.e.a["activity"]].add(r.pnr)
    for a in acts:
        if a.start <= R:
            took[a.activity_type].add(a.pnr)
    by_pnr = {m.pnr: m for m, _ in people}
    res = {}
    for t in sorted(took):
        ms = [by_pnr[p] for p in took[t] if p in by_pnr]
        res[t] = {"participants": len(ms), "exited": sum(1 for m in ms if not m.active),
                  "exits_work_or_studies": sum(1 for m in ms if not m.active and m.outcome in ("work", "studies"))}
    return res


def pathways(acts: list[ActRec], R: D) -> tuple[dict, dict]:
    """pathway_steps and pathway_transitions from the activity logs: per person, the path steps in order of
    first start (same day: step order); the step started last is the current one; days in a step run from
    its first start to its last end (an open or later end counts to the report date), both days included."""
    per = defaultdict(lambda: defaultdict(list))
    for a in acts:
        if a.activity_type in PATH_STEPS and a.start <= R:
            per[a.pnr][a.activity_type].append(a)
    if not per:
        return {}, {}
    reached, current, moved, days = Counter(), Counter(), Counter(), defaultdict(list)
    moves = defaultdict(list)
    for pnr, steps in per.items():
        seq = []
        for st, lst in steps.items():
            first = min(a.start for a in lst)
            last_end = max(R if a.end is None else min(a.end, R) for a in lst)
            seq.append((first, PATH_STEPS[st], st, (last_end - first).days + 1))
        seq.sort()
        for i, (first, _, st, d) in enumerate(seq):
            reached[st] += 1
            days[st].append(d)
            if i + 1 < len(seq):
                moved[st] += 1
                moves[(st, seq[i + 1][2])].append((seq[i + 1][0] - first).days)
            else:
                current[st] += 1
    steps_out = {st: {"participants_reached": reached[st], "participants_current": current[st],
                      "moved_on": moved[st],
                      "median_days_in_step": float(statistics.median(days[st])) if days[st] else None}
                 for st in STEPS}
    trans = defaultdict(dict)
    for (a, b), ds in sorted(moves.items()):
        trans[a][b] = {"participants": len(ds), "median_days_between_starts": float(statistics.median(ds))}
    return steps_out, dict(trans)


def expected_marts(out: ProjectOut, cfg: dict | None) -> dict:
    R = out.report_date
    recs = enrolment_versions(out)
    acts = loaded_activities(out)
    people = participant_entry(recs, R)
    res = {}
    if cfg is not None:
        res["esf_indicators"] = esf_indicators(people, cfg["project"]["programme"])
        res["target_followup"] = target_followup(people, cfg, R)
        res["monthly_active"] = monthly_active(recs, out, cfg)
    res["method_outcomes"] = method_outcomes(recs, acts, people, R)
    res["pathway_steps"], res["pathway_transitions"] = pathways(acts, R)
    return res


# ---------------------------------------------------------------------------------------------------------
# README per project


def readme(out: ProjectOut, exp: dict) -> str:
    lines = [f"# Sample inputs: {out.name} (`{out.pid}`)", "",
             "Synthetic data written by `../generate.py` (do not edit by hand: re-run the generator). Read by "
             f"`pipelines/{out.pid}.toml`. Every personnummer, name, address and phone number is made up.", "",
             out.readme_intro, "", "## Files", ""]
    for f in sorted(out.files, key=lambda f: f.rel):
        st = exp["files"][f.rel]
        lines.append(f"- `{f.rel}` ({f.kind}; export date {f.export_date}) — {f.desc} "
                     f"Rows read {st['rows_read']}: loaded {st['rows_loaded']}, rejected {st['rows_rejected']}, "
                     f"skipped {st['rows_skipped']}; status `{st['status']}`.")
    lines += ["", "## Deliberate errors (each is a reject with this rule)", "",
              "Row = Excel row number (1-based) or, for CSV/TXT, the line the record starts on.", "",
              "| file | row | rule | what |", "|---|---|---|---|"]
    quirks = []
    for f in sorted(out.files, key=lambda f: f.rel):
        if f.failed:
            continue
        for n, r in zip(row_numbers(f), f.sheet().rows):
            if r.rules:
                lines.append(f"| `{f.rel}` | {n} | {', '.join(r.rules)} | {r.note} |")
            elif r.note:
                quirks.append(f"| `{f.rel}` | {n or '—'} | {r.kind} | {r.note} |")
    lines += ["", "## Other quirks on purpose (not rejects)", "", "| file | row | kind | what |", "|---|---|---|---|"]
    lines += quirks
    if any(f.failed for f in out.files):
        lines += ["", "Files that must fail as a whole: " +
                  ", ".join(f"`{f.rel}`" for f in out.files if f.failed) + " (see above)."]
    t = exp["overview"]["project"]
    lines += ["", f"## Figures at the report date {out.report_date} (from `EXPECTED.json`)", "",
              "| scope | enrolments | participants (w/m) | active | exited | work | studies | job seeking | other | no reason |",
              "|---|---|---|---|---|---|---|---|---|---|"]

    def line(name, c):
        tt, w, m = c["total"], c["woman"], c["man"]
        return (f"| {name} | {tt['enrolments']} | {tt['participants']} ({w['participants']}/{m['participants']}) | "
                f"{tt['active']} | {tt['exited']} | {tt['exits_work']} | {tt['exits_studies']} | "
                f"{tt['exits_job_seeking']} | {tt['exits_other']} | {tt['exits_no_outcome']} |")
    lines.append(line("**project**", t))
    for sid, c in exp["overview"]["subprojects"].items():
        lines.append(line(sid, c))
    lines += ["", "A person in two sub-projects counts in both and once in the project, so the sub-project rows "
                  "need not add up to the project row.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# Independent check against the pipeline files (a Python reading of docs/semantics.md)

BUILTIN = {
    "gender": {"k": "woman", "kvinna": "woman", "kvinnor": "woman", "f": "woman", "female": "woman",
               "woman": "woman", "2": "woman", "m": "man", "man": "man", "män": "man", "male": "man", "1": "man"},
    "bool": {**dict.fromkeys(["ja", "j", "yes", "y", "x", "1", "true", "sant"], "true"),
             **dict.fromkeys(["nej", "n", "no", "0", "false", "falskt"], "false")},
    "yesno": {**dict.fromkeys(["ja", "j", "yes", "y", "x", "1"], "yes"), **dict.fromkeys(["nej", "n", "no", "0"], "no"),
              **dict.fromkeys(["vill ej uppge", "avstår", "vill inte svara", "refused"], "refused"),
              **dict.fromkeys(["okänd", "okänt", "vet ej", "uppgift saknas", "unknown"], "unknown")},
    "education_level": {**dict.fromkeys(["förgymnasial", "grundskola", "isced 0-2", "isced_0_2"], "isced_0_2"),
                        **dict.fromkeys(["gymnasial", "gymnasium", "isced 3-4", "isced_3_4"], "isced_3_4"),
                        **dict.fromkeys(["eftergymnasial", "högskola", "universitet", "isced 5-8", "isced_5_8"],
                                        "isced_5_8"),
                        **dict.fromkeys(["okänd", "uppgift saknas", "unknown"], "unknown")},
}
BUILTIN_OF = {"gender": "gender", "long_term_unemployed": "bool", "qualification_gained": "bool",
              "subsidised_employment": "bool", "foreign_born": "yesno", "third_country_national": "yesno",
              "disability": "yesno", "education_level": "education_level"}
VALUE_FIELDS = ["gender", "exit_reason", "referral_source", "education_level", "labour_status", "long_term_unemployed",
                "foreign_born", "third_country_national", "disability", "qualification_gained",
                "subsidised_employment", "activity_type"]


def fold_key(s: str) -> str:
    s = unicodedata.normalize("NFC", s).replace("\u00a0", " ").replace("\u202f", " ")
    return " ".join(s.split()).lower()


def fold_header(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", fold_key(s)) if c.isalnum())


def is_empty(v) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def parse_pnr(raw: str, ref: D):
    """Returns (canonical, birth, woman) or None (invalid). Mirrors the rules in docs/semantics.md."""
    s = "".join(c for c in raw if not c.isspace())
    if ("E" in s or "e" in s) and any(c in s for c in "+,."):
        return None
    up = s.upper()
    if "TF" in up:
        pos = up.index("TF")
        dp, tail = up[:pos].replace("-", ""), up[pos + 2:]
        if len(dp) == 8 and dp.isdigit() and len(tail) == 2 and tail.isdigit():
            b = dt.datetime.strptime(dp, "%Y%m%d").date()
            return f"{dp}TF{tail}", b, int(tail[0]) % 2 == 0
        return None
    digits, sep = [], None
    for i, c in enumerate(s):
        if c.isdigit():
            digits.append(c)
        elif c in "-+" and sep is None and i > 0 and len(s) - i == 5:
            sep = c
        else:
            return None
    if len(digits) not in (10, 12):
        return None
    ten = "".join(digits[-10:])
    if luhn_digit(ten[:9]) != int(ten[9]):
        return None
    yy, mm, dd = int(ten[:2]), int(ten[2:4]), int(ten[4:6])
    if int(ten[6:9]) == 0:
        return None
    if dd > 60:
        dd -= 60
    if len(digits) == 12:
        year = int("".join(digits[:4]))
    else:
        year = ref.year - ref.year % 100 + yy
        try:
            after = D(year, mm, dd) > ref
        except ValueError:
            after = year > ref.year
        if after:
            year -= 100
        if sep == "+":
            year -= 100
    try:
        b = D(year, mm, dd)
    except ValueError:
        return None
    if b > ref:
        return None
    return f"{year:04d}{ten[2:]}", b, int(ten[8]) % 2 == 0


def parse_date(v, formats):
    if isinstance(v, D):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return EXCEL_EPOCH + dt.timedelta(days=int(v))
    for fmt in formats:
        try:
            return dt.datetime.strptime(v.strip(), fmt).date()
        except ValueError:
            pass
    return None


def export_date_of(src: dict, f: FileM) -> D:
    ed = src.get("export_date")
    if ed is None:
        raise AssertionError(f"{f.rel}: every sample source states its export date")
    if ed["from"] == "fixed":
        return ed["date"]
    if ed["from"] == "filename":
        name = Path(f.rel).name
        for pat, fmt, last in ((r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d", False), (r"\d{8}", "%Y%m%d", False),
                               (r"\d{4}-\d{2}", "%Y-%m", True), (r"\d{6}", "%Y%m", True)):
            m = re.search(pat, name)
            if m:
                d = dt.datetime.strptime(m.group(0), fmt).date()
                if last:
                    nxt = D(d.year + d.month // 12, d.month % 12 + 1, 1)
                    d = nxt - dt.timedelta(days=1)
                return d
        raise AssertionError(f"{f.rel}: no date in the file name")
    if ed["from"] == "cell":
        m = re.fullmatch(r"([A-Z]+)(\d+)", ed["cell"])
        col = 0
        for ch in m.group(1):
            col = col * 26 + ord(ch) - 64
        v = f.sheet().rows[int(m.group(2)) - 1].cells[col - 1]
        return v if isinstance(v, D) else parse_date(v, ["%Y-%m-%d"])
    raise AssertionError(f"{f.rel}: export_date from {ed['from']} is not used by the samples")


def check_project(out: ProjectOut, pipeline_path: Path):
    cfg = tomllib.loads(pipeline_path.read_text(encoding="utf-8"))
    pr = cfg["project"]
    assert pr["id"] == out.pid, (pr["id"], out.pid)
    assert pr["report_date"] == out.report_date, (pr["report_date"], out.report_date)
    assert pr["input_dir"] == f"../sample-inputs/{out.pid}", pr["input_dir"]
    sp = {s["id"]: s for s in cfg["subprojects"]}
    assert [(s["id"], s["municipality_code"]) for s in cfg["subprojects"]] == \
           [(a, c) for a, _, c in out.subprojects], "subprojects differ from the generator's"
    by_code = {s["municipality_code"]: s["id"] for s in cfg["subprojects"]}
    age_lo, age_hi = cfg.get("validation", {}).get("age_range", [15, 67])
    p_start, p_end = pr["period_start"], pr["period_end"]
    matched = {}
    for i, src in enumerate(cfg["sources"]):
        for f in out.files:
            if any(fnmatch.fnmatchcase(f.rel, g) for g in src["files"]):
                assert f.rel not in matched, f"{f.rel} matched by two sources"
                matched[f.rel] = i
    missing = [f.rel for f in out.files if f.rel not in matched]
    assert not missing, f"files no source reads: {missing}"
    for f in out.files:
        src = cfg["sources"][matched[f.rel]]
        kind = src.get("kind", "enrolments")
        assert kind == f.kind, (f.rel, kind, f.kind)
        if f.failed:
            continue
        assert export_date_of(src, f) == f.export_date, (f.rel, export_date_of(src, f), f.export_date)
        if f.fmt != "csv":
            want = src.get("sheet")
            name = want if isinstance(want, str) else f.sheets[want or 0].name
            assert name == f.read_sheet, (f.rel, name, f.read_sheet)
        else:
            d = src.get("delimiter", "auto")
            assert d in ("auto", f.delimiter), (f.rel, d)
            enc = src.get("encoding", "auto")
            assert enc == "auto" or (enc in ("windows-1252", "windows1252", "cp1252", "latin1", "iso-8859-1") and
                                     f.encoding == "cp1252") or (enc in ("utf-8", "utf8") and f.encoding == "utf-8"), \
                (f.rel, enc)
        cols = src["columns"]
        rows = f.sheet().rows
        numbers = row_numbers(f)
        want_h = {fold_header(h) for h in cols.values()}
        hr = src.get("header_row", "auto")
        if hr == "auto":
            cands = [i for i, r in enumerate(rows[:50]) if r.kind != "empty_line" and
                     want_h <= {fold_header(c) for c in r.cells if isinstance(c, str)}]
            h = cands[0]
        else:
            h = numbers.index(hr)
        assert rows[h].kind == "header", (f.rel, h)
        idx = {}
        for fld, head in cols.items():
            pos = [j for j, c in enumerate(rows[h].cells) if isinstance(c, str) and fold_header(c) == fold_header(head)]
            assert len(pos) == 1, (f.rel, head, pos)
            idx[fld] = pos[0]
        formats = src.get("date_formats", ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y%m%d"])
        vmaps = {k: {fold_key(a): b for a, b in v.items()} for k, v in cfg.get("values", {}).items()}
        for k, v in src.get("values", {}).items():
            vmaps.setdefault(k, {}).update({fold_key(a): b for a, b in v.items()})
        seen = set()
        for i, row in enumerate(rows):
            if i == h or row.kind == "empty_line":
                continue
            where = f"{f.rel} row {numbers[i]}"
            if i < h:
                assert row.kind in ("title", "blank"), where
                continue
            cells = row.cells
            if all(is_empty(c) for c in cells):
                assert row.kind == "blank", where
                continue
            first = next(c for c in cells if not is_empty(c))
            if isinstance(first, str) and re.match(r"(?i)\s*(summa|totalt|total|antal)", first):
                assert row.kind == "total", where
                continue
            assert row.kind == "data", (where, row.kind)

            def get(fld):
                return cells[idx[fld]] if fld in idx and idx[fld] < len(cells) else None

            rules = []
            pn_raw, st_raw = get("personnummer"), get("start_date")
            if is_empty(pn_raw) or is_empty(st_raw) or (kind == "activities" and is_empty(get("activity_type"))):
                rules.append("missing_required")
            pn = None if is_empty(pn_raw) else parse_pnr(str(pn_raw), f.export_date)
            if not is_empty(pn_raw) and pn is None:
                rules.append("invalid_personnummer")
            start = None if is_empty(st_raw) else parse_date(st_raw, formats)
            end_raw = get("end_date")
            end = None if is_empty(end_raw) else parse_date(end_raw, formats)
            if (not is_empty(st_raw) and start is None) or (not is_empty(end_raw) and end is None):
                rules.append("invalid_date")
            hrs = get("hours")
            if not is_empty(hrs) and not isinstance(hrs, (int, float)):
                t = hrs.replace(" ", "")
                t = t.replace(",", ".") if src.get("decimal_comma") else t
                try:
                    float(t)
                except ValueError:
                    rules.append("invalid_number")
            mapped = {}
            for fld in VALUE_FIELDS:
                v = get(fld)
                if is_empty(v):
                    continue
                key = fold_key(str(v))
                val = vmaps.get(fld, {}).get(key) or BUILTIN.get(BUILTIN_OF.get(fld, ""), {}).get(key)
                if val is None:
                    rules.append("unknown_value")
                mapped[fld] = val
            if "subproject" in src:
                sub = src["subproject"]
            else:
                code = get("municipality_code")
                code = str(code).strip().removesuffix(".0") if not isinstance(code, (int, float)) else str(int(code))
                sub = by_code.get(code)
                if sub is None:
                    rules.append("unknown_subproject")
            if start and end and end < start:
                rules.append("end_before_start")
            if kind == "enrolments" and not is_empty(get("exit_reason")) and is_empty(end_raw):
                rules.append("outcome_without_exit")
            if start and (start < p_start or start > p_end) or (end and end > p_end):
                rules.append("outside_project_period")
            if pn and start and not (age_lo <= age_at(pn[1], start) <= age_hi):
                rules.append("age_out_of_range")
            if pn and start and sub:
                key = (sub, pn[0], start)
                if key in seen:
                    rules.append("duplicate_row")
                seen.add(key)
            assert tuple(rules) == row.rules, f"{where}: rules {rules}, declared {row.rules}"
            if rules:
                continue
            r = row.rec
            if kind == "enrolments":
                carried = {LAYOUT_CANONICAL[x] for x in r.fields if x in LAYOUT_CANONICAL}
                assert carried == set(cols), f"{where}: layout carries {sorted(carried)}, pipeline maps {sorted(cols)}"
                reason = mapped.get("exit_reason")
                got = Rec(sub, pn[0], pn[2], start, end, reason)
                assert got == r, f"{where}: read {got}, model {r}"
                if "gender" in mapped and (mapped["gender"] == "woman") != pn[2]:
                    assert "gender_mismatch" in row.note or "says woman" in row.note, where
            else:
                got = (sub, pn[0], mapped.get("activity_type"), start, end)
                assert got == (r.sub, r.pnr, r.activity_type, r.start, r.end), f"{where}: {got} vs {r}"


def readback(out: ProjectOut, folder: Path):
    """Read every written file back (calamine for workbooks, the csv module for text) and compare."""
    try:
        import python_calamine as pc
    except ImportError:
        print("  (python-calamine not installed: workbook read-back skipped)")
        return
    for f in out.files:
        path = folder / f.rel
        if f.failed:
            try:
                pc.CalamineWorkbook.from_path(str(path))
            except Exception:
                continue
            raise AssertionError(f"{f.rel}: calamine opened a file that should fail")
        want = [r for r in f.sheet().rows if r.kind != "empty_line"]
        if f.fmt == "csv":
            data = path.read_bytes()
            if f.bom:
                assert data.startswith(b"\xef\xbb\xbf"), f.rel
                data = data[3:]
            text = data.decode(f.encoding)
            got = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=f.delimiter) if r]
            assert len(got) == len(want), (f.rel, len(got), len(want))
            for g, w in zip(got, want):
                assert g == ["" if c is None else str(c) for c in w.cells] or not any(w.cells), (f.rel, g, w.cells)
            continue
        wb = pc.CalamineWorkbook.from_path(str(path))
        sh = wb.get_sheet_by_name(f.read_sheet)
        assert sh.start == (0, 0), (f.rel, sh.start)
        got = sh.to_python(skip_empty_area=False)
        assert len(got) == len(want), (f.rel, len(got), len(want))
        for n, (g, w) in enumerate(zip(got, want), start=1):
            for c, val in enumerate(w.cells):
                gv = g[c] if c < len(g) else ""
                if val is None or val == "":
                    ok = gv == ""
                elif isinstance(val, D):
                    ok = gv == val or (isinstance(gv, dt.datetime) and gv.date() == val)
                elif isinstance(val, (int, float)):
                    ok = isinstance(gv, (int, float)) and abs(gv - val) < 1e-9
                else:
                    ok = gv == val
                assert ok, f"{f.rel} row {n} col {c + 1}: calamine read {gv!r}, model {val!r}"


# ---------------------------------------------------------------------------------------------------------

def json_text(obj) -> str:
    """Indented JSON with every innermost object or list (scalars only) on one line."""
    def one_line(m):
        inner = re.sub(r"\n\s*", " ", m.group(2).strip())
        return f"{m.group(1)}{inner}{m.group(3)}"
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    return re.sub(r"([\[{])(\n[^\[\]{}]*?\n\s*)([\]}])", one_line, text) + "\n"


PROJECTS = [project_000, project_001, project_002, project_003, project_004]


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, default=1, help="multiply participant counts (default 1)")
    ap.add_argument("--out", type=Path, default=here, help="output folder (default: this script's folder)")
    ap.add_argument("--pipelines", type=Path, default=here.parent / "pipelines",
                    help="pipeline folder to check the files against (default ../pipelines)")
    ap.add_argument("--no-check", action="store_true", help="skip the pipeline and read-back checks")
    args = ap.parse_args(argv)
    if args.scale < 1:
        ap.error("--scale must be 1 or more")
    for make in PROJECTS:
        out = make(args.scale)
        folder = args.out / out.pid
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.is_file() and old.name not in ("README.md", "EXPECTED.json"):
                old.unlink()
        for f in out.files:
            WRITERS[f.fmt](f, folder / f.rel)
        pipeline = args.pipelines / f"{out.pid}.toml"
        cfg = tomllib.loads(pipeline.read_text(encoding="utf-8")) if pipeline.exists() else None
        exp = expected(out, cfg)
        for check in out.assertions:
            check(exp["overview"])
        (folder / "EXPECTED.json").write_text(json_text(exp), encoding="utf-8")
        (folder / "README.md").write_text(readme(out, exp), encoding="utf-8")
        if not args.no_check:
            check_project(out, args.pipelines / f"{out.pid}.toml")
            readback(out, folder)
        t = exp["overview"]["project"]["total"]
        rej = sum(exp["rejects_by_rule"].values())
        print(f"{out.pid}: {len(out.files)} files, {t['enrolments']} enrolments, {t['participants']} participants, "
              f"{rej} rejects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
