#!/usr/bin/env python3
"""Setting-change load driver for tools/bench/changes (stdlib only).

  changes_driver.py pair     API TOKEN SERIALS_FILE PAIRING_DIR    POST each pump's pairing code (DIR/SERIAL.txt)
  changes_driver.py therapy  API TOKEN SERIALS_FILE THERAPY_JSON   PUT each pump's prescription
  changes_driver.py connected API COUNT TIMEOUT                     wait until COUNT pumps connected
  changes_driver.py run API TOKEN SERIALS_FILE CONCURRENCY TOTAL LABEL   -> one JSON line

`run`: CONCURRENCY closed-loop workers; each owns a disjoint set of pumps (one command in flight
per pump, as the pipeline allows) and repeats: POST a 50 mU bolus with an Idempotency-Key, poll
GET /v1/changes/{id} until a final state. Latency = POST sent -> `applied` observed by the client
(includes up to one poll interval). Also reports the server's own accepted -> applied
times from the change's history. Changes/s = changes applied / wall time of the phase.
"""
import http.client
import json
import sys
import threading
import time
import uuid
from datetime import datetime
from urllib.parse import urlparse

FINAL = {"applied", "refused_by_pump", "expired", "not_applied", "cancelled", "rejected"}
# Poll interval: POLL_MS, or by default as many ms as there are clients (about 1,000 polls/s in
# all): each poll is an HTTP request the gateway serves on the same 2 cores as the changes.
POLL_MS = __import__("os").environ.get("POLL_MS")


def connection(api):
    u = urlparse(api)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def call(conn, method, path, token=None, body=None, headers=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    try:
        return r.status, json.loads(data) if data else {}
    except ValueError:
        return r.status, {"raw": data[:200].decode(errors="replace")}


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def therapy(api, token, serials_file, therapy_file):
    doc = open(therapy_file, "rb").read()
    conn = connection(api)
    for serial in open(serials_file).read().split():
        status, body = call(conn, "PUT", f"/v1/pumps/{serial}/prescription", token, doc)
        if status != 200:
            sys.exit(f"PUT prescription {serial}: {status} {body}")


def pair(api, token, serials_file, directory, timeout=120):
    conn = connection(api)
    deadline = time.time() + timeout
    for serial in open(serials_file).read().split():
        while True:
            try:
                code = open(f"{directory}/{serial}.txt").read().strip()
            except OSError:
                code = ""
            status, body = (0, {})
            if code:
                status, body = call(conn, "POST", "/v1/pairings", token, json.dumps({"code": code}))
                if status == 201:
                    break
            if time.time() > deadline or (code and body.get("reason") != "pairing_code_not_offered"):
                sys.exit(f"pair {serial}: {status} {body}")
            time.sleep(0.1)


def connected(api, token, count, timeout):
    conn = connection(api)
    deadline = time.time() + float(timeout)
    n = 0
    while time.time() < deadline:
        status, body = call(conn, "GET", "/v1/pumps", token)
        pumps = body.get("pumps", body) if isinstance(body, dict) else body
        n = sum(1 for p in pumps if isinstance(p, dict) and p.get("connected"))
        if n >= int(count):
            print(n)
            return
        time.sleep(0.5)
    sys.exit(f"only {n} of {count} pumps connected after {timeout} s")


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def run(api, token, serials_file, concurrency, total, label):
    serials = open(serials_file).read().split()
    concurrency = min(int(concurrency), len(serials))
    total = int(total)
    lock = threading.Lock()
    latencies, server, failures = [], [], []
    remaining = [total]
    body = json.dumps({"kind": "bolus", "milliunits": 50}).encode()
    poll_s = (float(POLL_MS) if POLL_MS else float(concurrency)) / 1000
    polls = [0]

    def worker(mine):
        conn = connection(api)
        i = 0
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            serial = mine[i % len(mine)]
            i += 1
            start = time.perf_counter()
            status, created = call(
                conn, "POST", f"/v1/pumps/{serial}/changes", token, body, {"Idempotency-Key": str(uuid.uuid4())}
            )
            if status != 201:
                with lock:
                    failures.append(f"POST {serial}: {status} {created.get('reason')} {created.get('message', '')[:160]}")
                continue
            change, ident = created, created["id"]
            while change.get("state") not in FINAL:
                time.sleep(poll_s)
                _, change = call(conn, "GET", f"/v1/changes/{ident}", token)
                polls[0] += 1
            elapsed = time.perf_counter() - start
            with lock:
                if change["state"] != "applied":
                    failures.append(f"{ident} {serial}: {change['state']}")
                    continue
                latencies.append(elapsed * 1000)
                try:
                    at = {h["to"]: parse_time(h["at"]) for h in change.get("history", [])}
                    server.append((at["applied"] - at["accepted"]) * 1000)
                except (KeyError, ValueError, TypeError):
                    pass

    shares = [serials[w::concurrency] for w in range(concurrency)]
    threads = [threading.Thread(target=worker, args=(s,)) for s in shares]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    out = {
        "bench": "changes",
        "label": label,
        "pumps": len(serials),
        "concurrency": concurrency,
        "applied": len(latencies),
        "failed": len(failures),
        "seconds": wall,
        "changesPerSecond": len(latencies) / wall if wall else 0,
        "p50ms": percentile(latencies, 50),
        "p99ms": percentile(latencies, 99),
        "maxms": max(latencies) if latencies else None,
        "serverP50ms": percentile(server, 50),
        "serverP99ms": percentile(server, 99),
        "pollMs": poll_s * 1000,
        "pollsPerChange": polls[0] / max(1, len(latencies)),
        "firstFailures": failures[:3],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"pair": pair, "therapy": therapy, "connected": connected, "run": run}[command](*args)
