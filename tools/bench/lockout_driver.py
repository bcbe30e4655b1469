#!/usr/bin/env python3
"""Driver for tools/bench/lockout (stdlib only).

  lockout_driver.py connected API TOKEN COUNT TIMEOUT     wait until COUNT pumps are connected
  lockout_driver.py lockout API TOKEN_A TOKEN_B COUNT     one `all` lockout, timed; lifted after -> one JSON line

Times: `lastSentMs` = the latest pump's lastSentAt minus the lockout's start (gateway clock);
`allAcknowledgedMs` = client wall time from sending the POST to the first GET /v1/lockouts/{id}
that shows every pump acknowledged (their acknowledgements are in the audit log by then);
`postMs` = the POST's own round trip (the lockout is durable in the log when it returns).
"""
import http.client
import json
import sys
import time
from datetime import datetime
from urllib.parse import urlparse


def call(api, method, path, token, body=None):
    u = urlparse(api)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    headers = {"Authorization": "Bearer " + token}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if data else {}


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def connected(api, token, count, timeout):
    deadline = time.time() + float(timeout)
    while time.time() < deadline:
        u = urlparse(api)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        conn.request("GET", "/v1/pumps", headers={"Authorization": "Bearer " + token})
        pumps = json.loads(conn.getresponse().read())["pumps"]
        conn.close()
        n = sum(1 for p in pumps if p["connected"])
        print(f"connected {n}/{count}", file=sys.stderr)
        if n >= int(count):
            return
        time.sleep(2)
    sys.exit(f"only {n} of {count} pumps connected in {timeout} s")


def lockout(api, token_a, token_b, count):
    count = int(count)
    t0 = time.time()
    status, body = call(api, "POST", "/v1/lockouts", token_a, {"scope": "all", "reason": "bench: fleet lockout"})
    post = time.time() - t0
    if status != 201:
        sys.exit(f"POST /v1/lockouts answered {status}: {body}")
    lid = body["id"]
    start = ts(body["started"]["at"])
    while True:
        status, detail = call(api, "GET", f"/v1/lockouts/{lid}", token_a)
        acked = [p for p in detail["pumps"] if p["state"] == "acknowledged"]
        if len(acked) >= count:
            done = time.time() - t0
            break
        if time.time() - t0 > 600:
            sys.exit(f"only {len(acked)} of {count} acknowledged after 600 s")
        # Each poll is a detail of every pump, built on the gateway's cores: poll less often for
        # larger fleets (the server-side times in the answer are exact anyway).
        time.sleep(max(0.25, count / 10000))
    last_sent = max(ts(p["lastSentAt"]) for p in detail["pumps"] if p.get("lastSentAt"))
    last_ack = max(ts(p["acknowledgedAt"]) for p in acked)
    call(api, "POST", f"/v1/lockouts/{lid}/lift", token_a)
    status, _ = call(api, "POST", f"/v1/lockouts/{lid}/lift/confirm", token_b)
    # The script waits until the pumps are quiet again (every lift applied) before the next run.
    print(json.dumps({
        "postMs": round(post * 1000, 1),
        "lastSentMs": round((last_sent - start) * 1000, 1),
        "lastAcknowledgedServerMs": round((last_ack - start) * 1000, 1),
        "allAcknowledgedMs": round(done * 1000, 1),
    }))


if __name__ == "__main__":
    {"connected": connected, "lockout": lockout}[sys.argv[1]](*sys.argv[2:])
