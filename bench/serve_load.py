"""Load benchmark for `followup serve`: N concurrent psycopg clients issue the dashboard mart queries for a
fixed time; prints queries/s, p50/p95/max latency and the error count (non-zero exit on any error).

    python bench/serve_load.py --bin target/release/followup --warehouse warehouse [--clients 32] [--seconds 30]
    python bench/serve_load.py --host 127.0.0.1 --port 5433 [--user U --password P]   # a running server

Traffic goes to loopback only. Needs psycopg (tests/outside/requirements.txt).
"""
import argparse
import subprocess
import sys
import threading
import time

import psycopg

QUERIES = [
    "select * from regional_overview where level = 'project' order by project_id, gender",
    "select project_id, indicator_code, gender, value from esf_indicators order by 1, 2, 3",
    "select * from target_followup order by project_id, target_id",
    "select project_id, month, sum(active) as active from monthly_active group by 1, 2 order by 1, 2",
    "select * from published.regional_overview order by project_id, subproject_id, gender",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--warehouse", default="warehouse")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--user", default="bench")
    ap.add_argument("--password")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("bench targets loopback only")

    server = None
    port = args.port
    if args.bin:
        server = subprocess.Popen([args.bin, "serve", "--warehouse", args.warehouse, "--listen", "127.0.0.1:0"],
                                  stdout=subprocess.PIPE, text=True)
        line = server.stdout.readline().strip()
        port = int(line.rsplit(":", 1)[1])
    if port is None:
        sys.exit("give --bin (to start a server) or --port")
    conninfo = dict(host=args.host, port=port, user=args.user, dbname="followup")
    if args.password:
        conninfo["password"] = args.password

    try:
        with psycopg.connect(**conninfo, autocommit=True) as c:
            expected = [c.execute(q).fetchall() for q in QUERIES]
        latencies, errors, lock = [], [], threading.Lock()
        deadline = time.monotonic() + args.seconds

        def client(i):
            mine = []
            try:
                with psycopg.connect(**conninfo, autocommit=True) as c:
                    k = i
                    while time.monotonic() < deadline:
                        q = k % len(QUERIES)
                        t0 = time.perf_counter()
                        rows = c.execute(QUERIES[q]).fetchall()
                        mine.append(time.perf_counter() - t0)
                        if rows != expected[q]:
                            raise AssertionError(f"wrong result for {QUERIES[q]}")
                        k += 1
            except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    errors.append(repr(e))
            with lock:
                latencies.extend(mine)

        start = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
    finally:
        if server:
            server.terminate()
            server.wait()

    latencies.sort()
    n = len(latencies)
    pct = lambda p: latencies[min(n - 1, int(p * n))] * 1000 if n else float("nan")  # noqa: E731
    print(f"serve_load: {args.clients} clients, {elapsed:.1f} s, {n} queries, {n / elapsed:.1f} queries/s, "
          f"p50 {pct(0.50):.1f} ms, p95 {pct(0.95):.1f} ms, max {pct(1.0):.1f} ms, errors {len(errors)}")
    if errors:
        print("first error:", errors[0])
        sys.exit(1)


if __name__ == "__main__":
    main()
