#!/usr/bin/env python3
"""followup against DuckDB, Polars and pandas on the same generated data (bench/README.md). Run via bench/run.sh.

Every measurement is one whole process under /usr/bin/time -v: wall time (perf_counter around it) and
"Maximum resident set size". Repetitions are interleaved, the tool order rotated per repetition, and each
followup run gets a fresh warehouse. Every output is checked against the generator's ground truth; any
disagreement or failed run fails the benchmark (exit 1) and bench/RESULTS.md is then left as it was.
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from peers import DUCKDB_REWRITES

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SQL = ROOT / "sql"
GEN = BENCH / "gen.py"
# workload -> (layout, rows, files) at --scale 1
FULL = {"a": ("cp1252", 2_000_000, 1), "b": ("utf8", 2_000_000, 1), "c": ("xlsx", 200_000, 1),
        "d": ("cp1252", 1_000_000, 500)}
TITLES = {"a": "Windows-1252 `;` CSV, decimal comma", "b": "UTF-8 (BOM) `,` CSV", "c": "xlsx, title row, header on row 3",
          "d": "many Windows-1252 `;` CSV files", "e": "marts over enrolments and an activity log (SQL models)"}
E_ROWS, E_TEMPLATE_ROWS = 10_000_000, 20_000
CURVES = {"a": (1, 4, 16), "d": (0.25, 1, 4)}  # followup alone: file size (a), number of files (d)
PEERS = ("duckdb", "polars", "pandas")
MARTS = ("regional_overview", "esf_indicators", "monthly_active", "method_outcomes", "pathway_steps",
         "pathway_transitions")
FLAT = 1.25  # "flat": the largest peak of a curve at most this times its smallest


def median(xs):
    return statistics.median(xs) if xs else None


def rotate(xs, n):
    n %= len(xs)
    return list(xs[n:]) + list(xs[:n])


def fmt(x, spec):
    return "–" if x is None else format(x, spec)


class Bench:
    def __init__(self, args):
        self.args = args
        self.env = {"FOLLOWUP_HMAC_KEY": secrets.token_hex(32)}  # a throw-away key for this benchmark only
        self.runs = defaultdict(list)  # (label, tool) -> [(seconds, peak MiB)]
        self.stages = defaultdict(list)  # label -> [{stage: seconds}] of followup run, from its JSON log
        self.rows = {}  # label -> rows processed
        self.e_activities = 0  # rows of (e)'s activity log
        self.problems = []
        self.validated = set()
        self.work = Path(tempfile.mkdtemp(prefix="runs-", dir=args.data))

    # --- data ------------------------------------------------------------------------------------------

    def key(self, *extra) -> str:
        h = hashlib.sha256()
        for p in (GEN, BENCH / "pipeline.toml.in", ROOT / "sample-inputs" / "generate.py"):
            h.update(p.read_bytes())
        h.update(json.dumps([self.args.seed, *extra]).encode())
        return h.hexdigest()[:12]

    def cached(self, name: str, key: str, make) -> Path:
        """Data folder <name>-<key>, made once (into a temporary name, then renamed) and reused while the key
        holds; a new one replaces the folders of the same name with an older key."""
        path = self.args.data / f"{name}-{key}"
        if not path.exists():
            tmp = self.args.data / f".{path.name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            print(f"generating {path}", flush=True)
            make(tmp)
            tmp.rename(path)
            for old in self.args.data.glob(f"{name}-*"):
                if old != path and re.fullmatch(r"[0-9a-f]{12}", old.name.removeprefix(f"{name}-")):
                    shutil.rmtree(old)
        return path

    def exports(self, tag: str, layout: str, rows: int, files: int) -> Path:
        def make(out):
            subprocess.run([sys.executable, GEN, "exports", "--layout", layout, "--rows", str(rows), "--files",
                            str(files), "--seed", str(self.args.seed), "--project-id", f"bench_{tag}", out],
                           check=True, stdout=subprocess.DEVNULL)
        path = self.cached(f"{tag}-{rows}", self.key(tag, layout, rows, files), make)
        if path not in self.validated:
            r = subprocess.run([self.args.bin, "validate", "--pipelines", path / "pipelines"], capture_output=True,
                               text=True)
            if r.returncode != 0:
                sys.exit(f"followup validate rejects {path / 'pipelines'}:\n{r.stdout}{r.stderr}")
            self.validated.add(path)
        return path

    def sizes(self, w: str, factor: float = 1) -> tuple[str, int, int]:
        """(layout, rows, files) of workload w at --scale × factor; many-file sets keep their rows per file."""
        layout, rows, files = FULL[w]
        if files == 1:
            return layout, max(1, round(rows * self.args.scale * factor)), 1
        n = max(1, round(files * self.args.scale * factor))
        return layout, n * (rows // files), n

    def models_input(self) -> Path:
        """A snapshot-like folder for `followup models`: the reference tables of a small followup run plus
        enrolment_rows scaled to 10 M rows (E_ROWS × --scale) and an activity log for them (0.4 rows per
        enrolment) by gen.py."""
        rows = max(1, round(E_ROWS * self.args.scale))
        tpl = self.exports("e_template", "cp1252", E_TEMPLATE_ROWS, 1)
        stat = Path(self.args.bin).stat()  # the template comes from this binary: a rebuild renews it

        def make(out):
            wh = self.work / "e-template"
            r = subprocess.run(list(map(str, self.followup_cmd(tpl, wh))), env={**os.environ, **self.env},
                               capture_output=True, text=True)
            if r.returncode not in (0, 1):
                sys.exit(f"followup run failed on {tpl}:\n{r.stderr[-3000:]}")
            models = {p.stem for p in SQL.rglob("*.sql")}
            out.mkdir()
            for p in (wh / "current").iterdir():
                stem = p.name.removesuffix(".parquet")
                if stem in models or stem in ("published", "enrolment_rows", "activity_rows"):
                    continue
                (shutil.copytree if p.is_dir() else shutil.copy2)(p, out / p.name)
            subprocess.run([sys.executable, GEN, "enrolments", "--template", wh / "current" / "enrolment_rows",
                            "--rows", str(rows), "--seed", str(self.args.seed),
                            "--activities", out / "activity_rows",
                            "--activity-template", wh / "current" / "activity_rows", out / "enrolment_rows"],
                           check=True, stdout=subprocess.DEVNULL)
            shutil.rmtree(wh)
        self.rows["e"] = rows
        src = self.cached(f"e-{rows}", self.key("e", rows, stat.st_size, stat.st_mtime_ns), make)
        self.e_activities = pads.dataset(src / "activity_rows", format="parquet").count_rows()
        return src

    # --- measuring -------------------------------------------------------------------------------------

    def measure(self, label: str, tool: str, cmd: list, env=None, ok=(0,)) -> str | None:
        """Run one process under /usr/bin/time -v; record its wall time and peak RSS; return its stdout."""
        timing, log = self.work / "time.txt", self.work / f"{label}-{tool}.log"
        t0 = time.perf_counter()
        with open(log, "w") as err:
            r = subprocess.run(["/usr/bin/time", "-v", "-o", timing, *map(str, cmd)], stdout=subprocess.PIPE,
                               stderr=err, text=True, env={**os.environ, **(env or {})})
        seconds = time.perf_counter() - t0
        if r.returncode not in ok:
            tail = log.read_text(errors="replace")[-3000:]
            self.problems.append(f"{label}/{tool}: exit {r.returncode}: {shlex.join(map(str, cmd))}\n{tail}")
            print(f"  {label:>6} {tool:<9} FAILED (exit {r.returncode}), log: {log}", flush=True)
            return None
        kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing.read_text()).group(1))
        self.runs[(label, tool)].append((seconds, kb / 1024))
        print(f"  {label:>6} {tool:<9} {seconds:8.2f} s {kb / 1024:8.0f} MiB", flush=True)
        return r.stdout

    def followup_cmd(self, data: Path, wh: Path) -> list:
        return [self.args.bin, "run", "--log-format", "json", "--pipelines", data / "pipelines", "--warehouse", wh,
                "--sql", SQL]

    @staticmethod
    def stages_of(log: Path) -> dict | None:
        """Where a followup run spent its time, from the time stamps of its JSON log lines: up to the last
        file loaded, then to the last model built (if any), then to the end (data tests, publishing); and the
        peak memory of the ingest (what the process had used when the models began), logged by followup."""
        marks, last, ingest_mib, model_s, peaks = {}, None, None, {}, []
        for line in log.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            last = dt.datetime.fromisoformat(event["timestamp"])
            msg = event.get("message", "")
            if msg == "ingest finished":
                ingest_mib = event.get("peak_rss_mib")
            if msg == "model built" and "elapsed_ms" in event:
                model_s[event["model"]] = event["elapsed_ms"] / 1000
                if event.get("peak_rss_mib") is not None:
                    peaks.append((event["peak_rss_mib"], event["model"]))
            stage = "start" if msg == "run started" else "ingest" if msg.startswith("file ") else \
                "models" if msg.startswith("model ") else None
            if stage and not (stage == "start" and stage in marks):
                marks[stage] = last
        if not {"start", "ingest"} <= set(marks):
            return None
        marks.setdefault("models", marks["ingest"])
        top = max(p for p, _ in peaks) if peaks else None
        return {"ingest": (marks["ingest"] - marks["start"]).total_seconds(),
                "models": (marks["models"] - marks["ingest"]).total_seconds(),
                "tests + publish": (last - marks["models"]).total_seconds(),
                "ingest MiB": ingest_mib, "model s": model_s,
                # The model during which the process's peak (as far as the models go) was first reached.
                "peak model": next((m for p, m in peaks if p == top), None)}

    def stage_medians(self, label: str) -> dict:
        """Medians of the stages of a label's followup runs (a stage missing from a log is left out)."""
        runs = self.stages.get(label, [])
        keys = {k for r in runs for k in r} - {"model s", "peak model"}
        return {k: median(v) if (v := [r[k] for r in runs if r.get(k) is not None]) else None for k in keys}

    def model_notes(self, label: str) -> tuple[str, str]:
        """The three slowest models of a label's followup runs (median seconds each) and the model during
        which the peak memory was reached most often."""
        runs = self.stages.get(label, [])
        names = {m for r in runs for m in r.get("model s", {})}
        med = {m: median([r["model s"][m] for r in runs if m in r.get("model s", {})]) for m in names}
        slowest = ", ".join(f"{m} {s:.2f}" for m, s in sorted(med.items(), key=lambda x: -x[1])[:3]) or "–"
        peak = Counter(r.get("peak model") for r in runs if r.get("peak model")).most_common(1)
        return slowest, peak[0][0] if peak else "–"

    def check(self, label: str, tool: str, got: dict, want: dict):
        bad = [k for k in want if k not in got or (abs(got[k] - want[k]) > 1e-6 * max(1, abs(want[k]))
                                                   if isinstance(want[k], float) else got[k] != want[k])]
        if bad:
            self.problems.append(f"{label}/{tool}: output disagrees with the ground truth in {bad}: "
                                 f"got {got}, expected {want}")
            print(f"  {label:>6} {tool:<9} DISAGREES: {bad}", flush=True)

    @staticmethod
    def sums(t: pa.Table, start: str, end: str, hours: str) -> dict:
        days = t[start].cast(pa.date32()).cast(pa.int32())
        return {"rows": t.num_rows, "hours": pc.sum(t[hours]).as_py() or 0.0,
                "start_nonnull": t.num_rows - days.null_count, "start_days": pc.sum(days).as_py() or 0,
                "end_nonnull": t.num_rows - t[end].null_count}

    def one(self, label: str, tool: str, data: Path):
        """One measured run of `tool` on an exports folder, checked and cleaned up."""
        truth = json.loads((data / "truth.json").read_text())
        out = self.work / f"{label}-{tool}"
        if tool == "followup":
            # exit 1 = published with rejected rows, which every data set has
            if self.measure(label, tool, self.followup_cmd(data, out), self.env, ok=(0, 1)) is None:
                return
            if stages := self.stages_of(self.work / f"{label}-{tool}.log"):
                self.stages[label].append(stages)
            cur = out / "current"
            t = pads.dataset(cur / "enrolment_rows", format="parquet").to_table(
                columns=["start_date", "end_date", "hours"])
            loads = pq.read_table(cur / "file_loads.parquet", columns=["rows_loaded", "rows_rejected"])
            got = self.sums(t, "start_date", "end_date", "hours")
            got["rows_loaded"] = pc.sum(loads["rows_loaded"]).as_py()
            got["rows_rejected"] = pc.sum(loads["rows_rejected"]).as_py()
            want = {**truth["valid"], "rows_loaded": truth["valid"]["rows"], "rows_rejected": sum(truth["bad"].values())}
            self.check(label, tool, got, want)
            shutil.rmtree(out)
        else:
            out = out.with_suffix(".parquet")
            if self.measure(label, tool, [sys.executable, BENCH / "peers.py", tool, label, data, out]) is None:
                return
            lay = json.loads((data / "layout.json").read_text())
            t = pq.read_table(out, columns=[lay["start"], lay["end"], lay["hours"]])
            self.check(label, tool, self.sums(t, lay["start"], lay["end"], lay["hours"]), truth["all"])
            out.unlink()
        self.rows[label] = truth["rows"]

    @staticmethod
    def checksums(path: Path) -> dict:
        """Row count and, per column, the sum (numbers, booleans, dates as days) or non-null count (text)."""
        t = pq.read_table(path)
        out = {"rows": t.num_rows}
        for name, col in zip(t.column_names, t.columns):
            ty = col.type
            if pa.types.is_date(ty) or pa.types.is_timestamp(ty):
                out[name] = pc.sum(col.cast(pa.date32()).cast(pa.int32())).as_py()
            elif pa.types.is_boolean(ty) or pa.types.is_integer(ty) or pa.types.is_floating(ty) or pa.types.is_decimal(ty):
                out[name] = float(pc.sum(col.cast(pa.float64())).as_py() or 0)
            else:
                out[name] = len(col) - col.null_count
        return out

    def marts(self, src: Path, rep: int):
        """(e): `followup models` against the same SQL in DuckDB; the marts (MARTS) must agree."""
        outs = {}
        for tool in rotate(["followup", "duckdb"], rep):
            out = self.work / f"e-{tool}"
            cmd = ([self.args.bin, "models", "--input", src, "--output", out, "--sql", SQL] if tool == "followup"
                   else [sys.executable, BENCH / "peers.py", "duckdb", "e", src, out])
            stdout = self.measure("e", tool, cmd)
            if stdout is not None:
                outs[tool] = (out, json.loads(stdout.strip().splitlines()[-1])["models"])
        if len(outs) == 2:
            (fo, frows), (do, drows) = outs["followup"], outs["duckdb"]
            others = {m for m in set(frows) | set(drows) if frows.get(m) != drows.get(m)} - set(MARTS)
            if others:
                print(f"  note: other models differ in row count: {sorted(others)}")
            for m in MARTS:
                want, got = self.checksums(fo / f"{m}.parquet"), self.checksums(do / f"{m}.parquet")
                self.check(f"e/{m}", "duckdb", got, want)
        for out, _ in outs.values():
            shutil.rmtree(out)

    # --- the whole benchmark ---------------------------------------------------------------------------

    def run(self):
        a = self.args
        data = {w: self.exports(w, *self.sizes(w)) for w in a.workloads if w != "e"}
        curve = {}
        if a.scaling:
            for w, factors in CURVES.items():
                for f in factors:
                    tag = w if f == 1 else f"{w}_{f:g}x".replace(".", "_")
                    curve[(w, f)] = (tag, data.get(w) if f == 1 and w in data else self.exports(tag, *self.sizes(w, f)))
        e_input = self.models_input() if "e" in a.workloads else None
        for rep in range(a.reps):
            print(f"repetition {rep + 1}/{a.reps}", flush=True)
            for w, path in data.items():
                for tool in rotate(["followup", *a.tools], rep):
                    self.one(w, tool, path)
            if e_input:
                self.marts(e_input, rep)
            for tag, path in curve.values():
                if tag not in data:  # a factor-1 point is workload (a) or (d) itself
                    self.one(tag, "followup", path)
        return data, curve

    # --- report ----------------------------------------------------------------------------------------

    def stat(self, label, tool):
        xs = self.runs.get((label, tool))
        return (median([s for s, _ in xs]), median([m for _, m in xs])) if xs else (None, None)

    def report(self, data, curve) -> str:
        a = self.args
        lines = ["| workload | tool | median s | rows/s | peak MiB | × followup |", "|---|---|---:|---:|---:|---:|"]
        for w in a.workloads:
            base, _ = self.stat(w, "followup")
            for tool in ["followup", *(a.tools if w != "e" else ["duckdb"])]:
                s, mib = self.stat(w, tool)
                rate = self.rows.get(w) / s if s and self.rows.get(w) else None
                ratio = s / base if s and base else None
                lines.append(f"| {w} | {tool} | {fmt(s, '.2f')} | {fmt(rate, ',.0f')} | {fmt(mib, '.0f')} | "
                             f"{fmt(ratio, '.2f')} |")
        table = "\n".join(lines)

        def best_peer(w):
            times = [self.stat(w, t)[0] for t in PEERS if self.stat(w, t)[0]]
            return min(times) if times else None

        targets = []

        def target(text, ok, detail):
            targets.append(f"- {'not measured' if ok is None else 'met' if ok else 'NOT MET'}: {text} ({detail})")

        for w, limit in (("a", 0.5), ("b", 1.0), ("c", 1.0), ("d", 1.0)):
            f, p = self.stat(w, "followup")[0], best_peer(w)
            target(f"({w}) followup ≤ {limit}× the best peer", f and p and f <= limit * p,
                   f"{fmt(f and p and f / p, '.2f')}×")
        f, d = self.stat("e", "followup")[0], self.stat("e", "duckdb")[0]
        target("(e) followup ≤ 1.5× DuckDB", f and d and f <= 1.5 * d, f"{fmt(f and d and f / d, '.2f')}×")
        speedups = {w: self.stat(w, "pandas")[0] / self.stat(w, "followup")[0] for w in "abcd"
                    if self.stat(w, "pandas")[0] and self.stat(w, "followup")[0]}
        target("≥ 10× faster than pandas everywhere", all(v >= 10 for v in speedups.values()) if speedups else None,
               ", ".join(f"{w}: {v:.1f}×" for w, v in speedups.items()) or "pandas not run")
        for w in "ab":
            mib = self.stat(w, "followup")[1]
            target(f"({w}) followup peak memory < 300 MiB", mib and mib < 300, f"{fmt(mib, '.0f')} MiB")
        curve_lines = ["| curve | size | rows | median s | s per M rows | peak MiB | ingest peak MiB |",
                       "|---|---:|---:|---:|---:|---:|---:|"]
        for w, what in (("a", "file size"), ("d", "number of files")):
            peaks = []
            for f in CURVES[w]:
                if (w, f) not in curve:
                    continue
                tag, path = curve[(w, f)]
                s, mib = self.stat(tag, "followup")
                rows = json.loads((path / "truth.json").read_text())["rows"]
                files = self.sizes(w, f)[2]
                peaks.append(mib)
                curve_lines.append(f"| {w} ({what}) | {f:g}× ({files} file{'s' * (files > 1)}) | {rows:,} | "
                                   f"{fmt(s, '.2f')} | {fmt(s and s / rows * 1e6, '.2f')} | {fmt(mib, '.0f')} | "
                                   f"{fmt(self.stage_medians(tag).get('ingest MiB'), '.0f')} |")
            ok = None if len(peaks) < 2 or None in peaks else max(peaks) <= FLAT * min(peaks)
            target(f"({w}) followup peak memory flat in {what} (max ≤ {FLAT}× min over the curve)", ok,
                   " / ".join(fmt(p, ".0f") for p in peaks) + " MiB" if peaks else "curve not run")
        sizes = []
        for w, path in data.items():
            inputs = list((path / "input").iterdir())
            nbytes = sum(p.stat().st_size for p in inputs)
            rows = json.loads((path / "truth.json").read_text())["rows"]
            sizes.append(f"- ({w}) {TITLES[w]}: {rows:,} rows in {len(inputs)} file{'s' * (len(inputs) > 1)}, "
                         f"{nbytes / 2**20:,.1f} MiB")
        if "e" in a.workloads:
            sizes.append(f"- (e) {TITLES['e']}: {self.rows['e']:,} enrolment rows, an activity log of "
                         f"{self.e_activities:,} rows")
        stage_lines = ["| workload | ingest s | SQL models s | data tests + publish s | whole process s | "
                       "ingest peak MiB | whole peak MiB | slowest models s | peak reached in |",
                       "|---|---:|---:|---:|---:|---:|---:|---|---|"]
        for label, runs in self.stages.items():
            st = self.stage_medians(label)
            slowest, peak_model = self.model_notes(label)
            stage_lines.append(f"| {label} | {st['ingest']:.2f} | {st['models']:.2f} | {st['tests + publish']:.2f} | "
                               f"{fmt(self.stat(label, 'followup')[0], '.2f')} | {fmt(st.get('ingest MiB'), '.0f')} | "
                               f"{fmt(self.stat(label, 'followup')[1], '.0f')} | {slowest} | {peak_model} |")
        return "\n".join([
            "## Results", "", table, "", "## Targets", "", *targets, "",
            "## Where followup spends its time", "",
            "Medians from the time stamps of its JSON log (peers do only what the ingest column covers); the "
            "ingest's peak memory is what followup logs when the models begin; each `model built` line gives "
            "the model's own time and the process's peak so far, hence the three slowest models and the model "
            "during which the peak was reached (if a data test or publishing raised it later, the whole peak "
            "column is higher than that model's). Inside each phase (profiles by "
            "thread, model and operator) and what was tried: bench/README.md, \"Where the time goes\".", "",
            "\n".join(stage_lines), "",
            "## Scaling (followup alone)", "", "\n".join(curve_lines) if a.scaling else "not run (--no-scaling)", "",
            "## Data", "", *sizes,
        ])

    def environment(self) -> str:
        fv = subprocess.run([self.args.bin, "--version"], capture_output=True, text=True).stdout.strip()
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                             text=True).stdout.strip()
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), platform.processor())
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        pkgs = ", ".join(f"{p} {version(p)}" for p in ("duckdb", "polars", "pandas", "pyarrow", "fastexcel",
                                                       "python-calamine"))
        return "\n".join([
            f"- date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
            f"- command: `{os.environ.get('BENCH_COMMAND') or shlex.join(sys.argv)}`",
            f"- machine: {cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}",
            f"- followup: {fv} (git {rev}), binary {self.args.bin}",
            f"- peers: Python {platform.python_version()}, {pkgs}",
            f"- repetitions: {self.args.reps} (median), seed {self.args.seed}, scale {self.args.scale:g}",
        ])


RESULTS_INTRO = """# Benchmark results

Written by `bench/run.sh` (bench/README.md explains the workloads and how to read this page). Times are whole
processes (start-up, reading, writing, and for followup validation, pseudonymisation, staging, the SQL models,
data tests and publishing); peak memory is the maximum resident set size.

**Agreement.** The generator records the ground truth next to the data (`truth.json`): the row count, the
bad rows by rule, and over all rows and over the valid rows the sum of `hours`, the number of non-null
start and end dates and the sum of the start dates (as days). followup validates, so its
`enrolment_rows` must match the valid rows and its `file_loads` must count every bad row as rejected; the
peers do not validate (a date that does not parse becomes null), so their Parquet must match all rows.
For (e) the row counts and per-column sums of `regional_overview`, `esf_indicators`, `monthly_active`,
`method_outcomes`, `pathway_steps` and `pathway_transitions` must be equal between followup and DuckDB. A
disagreement fails the run and this page is not written.

**Peers.** DuckDB reads Windows-1252 through its `encodings` extension (`encoding='CP1252'`) and xlsx
through its `excel` extension, both from their PyPI packages; Polars streams UTF-8 with `scan_csv` →
`sink_parquet`, reads Windows-1252 with `read_csv(encoding='cp1252')` (decoded in Python) and xlsx with
fastexcel; pandas uses its C CSV parser and `read_excel(engine='calamine')`, the fastest xlsx engine it
supports. For (e) DuckDB runs `sql/` as `create table <model> as <sql>` in dependency order with these
textual rewrites:

"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the followup release binary")
    ap.add_argument("--data", type=Path, required=True, help="folder for generated data (reused)")
    ap.add_argument("--scale", type=float, default=1.0, help="size factor for every workload (default 1)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per measurement (median; default 3)")
    ap.add_argument("--workloads", default="a,b,c,d,e", help="comma-separated subset of a,b,c,d,e")
    ap.add_argument("--tools", default=",".join(PEERS), help="peers for a–d (default duckdb,polars,pandas)")
    ap.add_argument("--no-scaling", dest="scaling", action="store_false", help="skip the scaling curves")
    ap.add_argument("--seed", type=int, default=20260630)
    ap.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    args = ap.parse_args()
    args.workloads = [w for w in args.workloads.split(",") if w]
    args.tools = [t for t in args.tools.split(",") if t]
    if not set(args.workloads) <= set("abcde") or not set(args.tools) <= set(PEERS) or args.reps < 1 or args.scale <= 0:
        ap.error("bad --workloads, --tools, --reps or --scale")
    args.data.mkdir(parents=True, exist_ok=True)
    bench = Bench(args)
    try:
        data, curve = bench.run()
    finally:
        if not bench.problems:  # else the logs stay for a look
            shutil.rmtree(bench.work, ignore_errors=True)
    body = bench.report(data, curve)
    print("\n" + body)
    if bench.problems:
        print(f"\nBENCHMARK FAILED: outputs disagree or runs failed; {args.results} not written; logs in "
              f"{bench.work}:", file=sys.stderr)
        for p in bench.problems:
            print(f"- {p}", file=sys.stderr)
        sys.exit(1)
    rewrites = "\n".join(f"- `{f.__name__}`: {f.__doc__}" for f in DUCKDB_REWRITES)
    args.results.write_text(f"{RESULTS_INTRO}{rewrites}\n\n{bench.environment()}\n\n{body}\n", encoding="utf-8")
    print(f"\nall outputs agree; wrote {args.results}")


if __name__ == "__main__":
    main()
