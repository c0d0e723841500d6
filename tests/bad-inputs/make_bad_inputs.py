"""Write the bad-input corpus (committed; re-run only to change it). See README.md for each file's outcome.

    .venv-gen/bin/pip install openpyxl msoffcrypto-tool   # msoffcrypto-tool only for encrypted.xlsx
    .venv-gen/bin/python tests/bad-inputs/make_bad_inputs.py

Every workbook is written by the small OOXML writer below (not openpyxl) so the bytes are deterministic
and formula cells can carry cached error values the way Excel saves them. Only encrypted.xlsx changes on
every run (the encryption salt is random). Identity numbers are synthetic: checksum-valid, never real
people. Nothing here is large on disk: the 1,048,576-row sheet holds a handful of cells, the 100,000-character
cell compresses to almost nothing.
"""
import datetime
import io
import pathlib
import zipfile

HERE = pathlib.Path(__file__).parent
STAMP = (2022, 6, 30, 0, 0, 0)

HEADER = ["Personnummer", "Kön", "Startdatum", "Slutdatum", "Avslutsorsak", "Anteckning"]


def luhn(nine):
    total = 0
    for i, c in enumerate(nine):
        p = int(c) * (2 if i % 2 == 0 else 1)
        total += p // 10 + p % 10
    return (10 - total % 10) % 10


def pnr(year, month, day, serial):
    nine = f"{year % 100:02}{month:02}{day:02}{serial:03}"
    return f"{year}{month:02}{day:02}-{serial:03}{luhn(nine)}"


P1 = pnr(1990, 5, 20, 244)  # woman
P2 = pnr(1985, 3, 12, 123)  # man
P3 = pnr(1979, 11, 2, 468)  # woman
P4 = pnr(1992, 1, 30, 135)  # man
P5 = pnr(1988, 8, 8, 222)  # woman


def date(y, m, d):
    return ("date", datetime.date(y, m, d))


def err(formula, value):
    """A formula cell whose cached result is an Excel error, as Excel saves it."""
    return ("err", formula, value)


# --- a minimal, deterministic OOXML writer -------------------------------------------------------------


def col_name(c):
    s = ""
    c += 1
    while c:
        c, r = divmod(c - 1, 26)
        s = chr(ord("A") + r) + s
    return s


def esc(t):
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def xlsx_bytes(cells, merges=(), sheet="Deltagare"):
    """cells: {(row0, col0): value}; value is str, int/float, date(...) or err(...)."""
    strings, index = [], {}
    rows = {}
    for (r, c), v in cells.items():
        rows.setdefault(r, []).append((c, v))
    out = []
    for r in sorted(rows):
        cs = []
        for c, v in sorted(rows[r]):
            ref = f"{col_name(c)}{r + 1}"
            if isinstance(v, str):
                if v not in index:
                    index[v] = len(strings)
                    strings.append(v)
                cs.append(f'<c r="{ref}" t="s"><v>{index[v]}</v></c>')
            elif isinstance(v, tuple) and v[0] == "date":
                serial = (v[1] - datetime.date(1899, 12, 30)).days
                cs.append(f'<c r="{ref}" s="1"><v>{serial}</v></c>')
            elif isinstance(v, tuple) and v[0] == "err":
                cs.append(f'<c r="{ref}" t="e"><f>{esc(v[1])}</f><v>{esc(v[2])}</v></c>')
            else:
                cs.append(f'<c r="{ref}"><v>{v}</v></c>')
        out.append(f'<row r="{r + 1}">{"".join(cs)}</row>')
    last = max(cells) if cells else (0, 0)
    maxcol = max(c for (_, c) in cells) if cells else 0
    merge_xml = ""
    if merges:
        merge_xml = f'<mergeCells count="{len(merges)}">' + "".join(
            f'<mergeCell ref="{m}"/>' for m in merges
        ) + "</mergeCells>"
    sheet_xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:{col_name(maxcol)}{last[0] + 1}"/>'
        f'<sheetData>{"".join(out)}</sheetData>{merge_xml}</worksheet>'
    )
    sst = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(strings)}" '
        f'uniqueCount="{len(strings)}">'
        + "".join(f'<si><t xml:space="preserve">{esc(s)}</t></si>' for s in strings)
        + "</sst>"
    )
    files = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        "</Types>",
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>",
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{esc(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>",
        "xl/styles.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border/></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
        "</styleSheet>",
        "xl/sharedStrings.xml": sst,
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text.encode("utf-8"))
    return buf.getvalue()


def table(rows, start=0):
    """Rows of values (None = no cell) from row `start` (0-based) → cell dict."""
    cells = {}
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v is not None:
                cells[(start + r, c)] = v
    return cells


GOOD_ROWS = [
    HEADER,
    [P1, "K", date(2021, 3, 1), date(2021, 9, 30), "Arbete", None],
    [P2, "M", date(2021, 4, 1), None, None, None],
    [P3, "K", "2021-05-01", None, None, None],
]


def write(name, data):
    (HERE / name).write_bytes(data)
    print(f"{name}: {len(data)} bytes")


def main():
    plain = xlsx_bytes(table(GOOD_ROWS))

    # A transfer cut short: the first half of a valid workbook (the zip's central directory is missing).
    write("truncated.xlsx", plain[: len(plain) // 2])

    # Password-protected: an OOXML package encrypted inside a CFB container with an EncryptionInfo stream.
    try:
        from msoffcrypto.format.ooxml import OOXMLFile

        out = io.BytesIO()
        OOXMLFile(io.BytesIO(plain)).encrypt("hemligt", out)
        write("encrypted.xlsx", out.getvalue())
    except ImportError:
        print("encrypted.xlsx: msoffcrypto-tool not installed; kept the committed file")

    write("empty.csv", b"")
    write("header_only.csv", "Personnummer;Kön;Startdatum;Slutdatum;Avslutsorsak\r\n".encode("cp1252"))

    # What legacy case-management systems export as "Excel": an HTML table with an .xls name.
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>\n'
        "<table border=1>\n<tr><th>Personnummer</th><th>Kön</th><th>Startdatum</th></tr>\n"
        f"<tr><td>{P1}</td><td>K</td><td>2021-03-01</td></tr>\n</table></body></html>\n"
    )
    write("html_table.xls", html.encode("utf-8"))

    # Two exports pasted together: header and first rows in Windows-1252, the rest in UTF-8.
    cp = "Personnummer;Kön;Startdatum;Slutdatum;Avslutsorsak\r\n" f"{P1};K;2021-03-01;2021-09-30;Anställning\r\n"
    u8 = f"{P2};M;2021-04-01;2021-10-31;Anställning\r\n" f"{P3};K;2021-05-01;2021-11-30;Studier på komvux\r\n"
    write("mixed_encodings.csv", cp.encode("cp1252") + u8.encode("utf-8"))

    # The municipality dropped the personnummer column (names only).
    write(
        "no_personnummer_column.csv",
        "Namn;Kön;Startdatum;Slutdatum;Avslutsorsak\r\nAnna Andersson;K;2021-03-01;;\r\nBo Berg;M;2021-04-01;;\r\n".encode(
            "utf-8"
        ),
    )

    # A CSV export that someone renamed to .xlsx.
    write(
        "csv_renamed.xlsx",
        f"Personnummer;Kön;Startdatum;Slutdatum;Avslutsorsak\r\n{P4};M;2021-03-01;;\r\n{P5};K;2021-04-01;;\r\n".encode(
            "utf-8"
        ),
    )

    # The whole sheet is "used": 1,048,576 rows × 16,384 columns because of one stray space in XFD1048576,
    # but only five rows hold data (one of them half-way down, row 524288).
    cells = table(GOOD_ROWS)
    cells.update(table([[P4, "M", date(2021, 6, 1), None, None, None]], start=524287))
    cells[(1048575, 16383)] = " "
    write("million_rows.xlsx", xlsx_bytes(cells))

    # A cell holding 100,000 characters: once in an unmapped notes column, once in a mapped column.
    base = "Deltagaren har deltagit i samtal och studiebesök. "
    long_text = (base * (100_000 // len(base) + 1))[:100_000]
    assert len(long_text) == 100_000
    write(
        "long_cell.xlsx",
        xlsx_bytes(
            table(
                [
                    HEADER,
                    [P1, "K", date(2021, 3, 1), None, None, long_text],
                    [P2, "M", date(2021, 4, 1), date(2021, 8, 31), long_text, None],
                ]
            )
        ),
    )

    # Formulas whose cached results are Excel errors, in mapped and unmapped columns.
    write(
        "formula_errors.xlsx",
        xlsx_bytes(
            table(
                [
                    HEADER,
                    [P1, "K", err("VLOOKUP(A2,Register!A:C,3,FALSE)", "#N/A"), None, None, None],
                    [err("#REF!", "#REF!"), "M", date(2021, 4, 1), None, None, None],
                    [P3, "K", date(2021, 5, 1), None, None, err("1/0", "#DIV/0!")],
                    [P4, "M", date(2021, 6, 1), date(2021, 9, 30), err('"Arbete"+1', "#VALUE!"), None],
                    [P5, "K", date(2021, 7, 1), None, None, None],
                ]
            )
        ),
    )

    # Two-level header: "Datum" merged over Start/Slut, Personnummer and Avslutsorsak merged down two rows.
    write(
        "merged_header.xlsx",
        xlsx_bytes(
            table(
                [
                    ["Personnummer", "Datum", None, "Avslutsorsak"],
                    [None, "Start", "Slut", None],
                    [P1, date(2021, 3, 1), date(2021, 9, 30), "Arbete"],
                    [P2, date(2021, 4, 1), None, None],
                ]
            ),
            merges=["A1:A2", "B1:C1", "D1:D2"],
        ),
    )

    # A merged title across the top, the header on row 2: the common, harmless kind of merge.
    write(
        "merged_title.xlsx",
        xlsx_bytes(
            table(
                [
                    ["Deltagarlista – Härnösand", None, None, None, None, None],
                    HEADER,
                    [P1, "K", date(2021, 3, 1), None, None, None],
                    [P2, "M", date(2021, 4, 1), None, None, None],
                ]
            ),
            merges=["A1:F1"],
        ),
    )

    # A zip archive that is not a workbook, and binary content with a spreadsheet name.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("readme.txt", date_time=STAMP), b"Deltagarlistan finns i bilagan.\n")
    write("zip_not_xlsx.xlsx", buf.getvalue())
    write("image.xlsx", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(48))


if __name__ == "__main__":
    main()
