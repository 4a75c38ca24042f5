#!/usr/bin/env python3
"""The operator's side of a real `syncstack serve` (issue 15, items 2-4).

1. GET /healthz and /readyz answer 200 without a token.
2. Every answer carries X-Request-Id: a sane one sent by the client comes
   back, an insane one (too long, a space) is replaced by the server's.
3. GET /metrics parses with prometheus_client's own parser, and after real
   traffic the counters moved as they should: a wrong password adds 1 to
   syncstack_login_failures_total, a `syncstack sync` of N new records adds
   N to syncstack_records_written_total{kind="add"} and one session to
   syncstack_sync_duration_seconds, a 423 adds a lock wait, an older write
   a conflict, an unknown path counts under endpoint "other".
4. With --log-format json every stderr line is one JSON object with the
   fields of docs/operations.md; the password, the tokens and the lease of
   the session appear in no log line. With --metrics-token, /metrics wants
   it while /healthz does not; --log-format text logs the requests too.

usage: operations.py <path to syncstack>
"""
import json
import os
import re
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kits"))
from cli_store import put_record  # noqa: E402
from e2e_checks import Checks, call, run  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's python3-prometheus-client, for a python3 not from Debian
    # (e.g. pyenv's) that does not look in Debian's folder.
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

SYNCSTACK = sys.argv[1]
PASSWORD = "s3cret-Pw-" + uuid.uuid4().hex[:8]
checks = Checks()
check = checks.check


def metrics(port, token=None):
    """{(sample name, frozenset of labels): value} from GET /metrics."""
    status, _, resp = call_raw(port, "/metrics", token)
    check(status == 200, "GET /metrics: 200")
    text = resp
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def call_raw(port, path, token=None, request_id=None):
    """GET `path`; returns (status, X-Request-Id, body text)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {}
    if token:
        headers["Authorization"] = "Bearer " + token
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    body = resp.read().decode()
    rid = resp.getheader("X-Request-Id")
    conn.close()
    return resp.status, rid, body


def value(m, name, **labels):
    return m.get((name, frozenset(labels.items())), 0.0)


def login(port, password=PASSWORD):
    return call(port, "POST", "/v1/login",
                {"user": "alice", "password": password})


def check_health(port):
    status, rid, body = call_raw(port, "/healthz")
    check(status == 200 and json.loads(body) == {"status": "ok"},
          "GET /healthz: 200 {\"status\":\"ok\"} without a token")
    check(bool(rid), "GET /healthz carries X-Request-Id")
    status, _, body = call_raw(port, "/readyz")
    check(status == 200 and json.loads(body)["status"] == "ok",
          "GET /readyz: 200 without a token")


def check_request_ids(port):
    _, rid, _ = call_raw(port, "/healthz", request_id="client-id-42")
    check(rid == "client-id-42", "a sane X-Request-Id comes back")
    for bad in ("x" * 300, "has space"):
        _, rid, _ = call_raw(port, "/healthz", request_id=bad)
        check(bool(rid) and rid != bad and len(rid) <= 128,
              "an insane X-Request-Id is replaced (%r)" % bad[:12])
    _, a, _ = call_raw(port, "/healthz")
    _, b, _ = call_raw(port, "/healthz")
    check(a != b, "generated request ids differ")
    status, body, resp = call(port, "GET", "/nope")
    check(status == 404 and bool(resp.getheader("X-Request-Id")),
          "a 404 carries X-Request-Id")


def sync_records(port, workdir, n):
    device = "sqlite:" + os.path.join(workdir, "phone.db")
    for _ in range(n):
        put_record(SYNCSTACK, check, device, "phone", str(uuid.uuid4()),
                   {"title": "t"})
    r = run(SYNCSTACK, "sync", "--store", device, "--remote",
            "http://127.0.0.1:%d" % port, "--user", "alice", "--password",
            PASSWORD, "--device", "phone")
    check(r.returncode == 0, "sync of %d records: %s" % (n, r.stderr.strip()))


def lock_and_conflict(port, secrets):
    """A lease held by "tablet", a 423 for "laptop", an older write kept as
    a conflict. Returns the policy's name."""
    _, answer, _ = login(port)
    token = answer["token"]
    secrets.append(token)
    status, lock, _ = call(port, "POST", "/v1/lock", {"device": "tablet"},
                           token=token)
    check(status == 200, "tablet takes the lock")
    lease = lock["lease"]
    secrets.append(lease)
    secrets.append(lock.get("device_secret", lease))
    _, other, _ = login(port)
    secrets.append(other["token"])
    status, _, _ = call(port, "POST", "/v1/lock", {"device": "laptop"},
                        token=other["token"])
    check(status == 423, "laptop waits: 423")
    rid = str(uuid.uuid4())
    new = {"add": {"notes": [{"id": rid, "title": "new",
                              "last_update": "2026-06-01 00:00:00"}]}}
    status, _, _ = call(port, "POST", "/v1/synchronise.json", new,
                        token=token, lease=lease)
    check(status == 200, "tablet adds a record")
    old = {"update": {"notes": [{"id": rid, "title": "old",
                                 "last_update": "2020-01-01 00:00:00"}]}}
    status, body, _ = call(port, "POST", "/v1/synchronise.json", old,
                           token=token, lease=lease)
    check(status == 200 and body.get("conflicts"),
          "an older write is a conflict: %s" % body.get("conflicts"))
    status, _, _ = call(port, "DELETE", "/v1/lock", token=token, lease=lease)
    check(status == 204, "tablet releases the lock")
    return answer["policy"]


def check_metrics(port, workdir, secrets):
    before = metrics(port)
    status, _, _ = login(port, "wrong-" + PASSWORD)
    check(status == 401, "wrong password: 401")
    sync_records(port, workdir, 5)
    policy = lock_and_conflict(port, secrets)
    call(port, "GET", "/no/such/" + uuid.uuid4().hex)
    after = metrics(port)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    check(moved("syncstack_login_failures_total") == 1,
          "a wrong password adds 1 to login_failures")
    check(moved("syncstack_records_written_total", kind="add") == 6,
          "5 synced records and 1 raw add add 6 to records_written{add}: %s"
          % moved("syncstack_records_written_total", kind="add"))
    check(moved("syncstack_sync_duration_seconds_count") == 2,
          "two sync sessions (the CLI's and tablet's) in the histogram")
    check(moved("syncstack_lock_waits_total") == 1, "one lock wait")
    check(moved("syncstack_conflicts_total", policy=policy) == 1,
          "one conflict under policy %s" % policy)
    check(("syncstack_conflicts_total", frozenset({"policy": policy}.items()))
          in before, "the policy's conflict series exists from the start")
    check(moved("syncstack_http_requests_total", endpoint="login",
                status="401") == 1, "requests_total{login,401} +1")
    check(moved("syncstack_http_requests_total", endpoint="lock",
                status="423") == 1, "requests_total{lock,423} +1")
    check(moved("syncstack_http_requests_total", endpoint="unlock",
                status="204") == 2, "requests_total{unlock,204} +2")
    check(moved("syncstack_http_requests_total", endpoint="other",
                status="404") == 1, "an unknown path counts as other/404")
    check(moved("syncstack_store_apply_seconds_count") >= 2,
          "store applies are timed")
    check(value(after, "syncstack_active_connections") >= 1,
          "active_connections counts the scrape's own connection")
    labels = {v for (_, ls) in after for (_, v) in ls}
    check(not any("no/such" in v or "alice" in v for v in labels),
          "no path or user name in any label")


def check_json_log(log, secrets):
    lines = [line for line in log.splitlines() if line.strip()]
    objects = []
    for line in lines:
        try:
            objects.append(json.loads(line))
        except ValueError:
            check(False, "log line is JSON: %r" % line[:80])
    check(len(objects) == len(lines) and objects, "every log line is JSON")
    time_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    requests = [o for o in objects if "endpoint" in o]
    check(all(time_re.match(o.get("time", "")) and o.get("level")
              and o.get("request_id") and isinstance(o.get("status"), int)
              and isinstance(o.get("duration_ms"), (int, float))
              for o in requests),
          "request lines carry time (RFC 3339 UTC ms), level, request_id, "
          "status, duration_ms")
    check(any(o.get("request_id") == "client-id-42" for o in requests),
          "the client's request id is logged")
    check(any(o["endpoint"] == "synchronise" and o.get("user") == "alice"
              and o.get("device") == "tablet" for o in requests),
          "synchronise lines name user and device")
    check(any(o["endpoint"] == "login" and o["status"] == 401
              and o["level"] == "warn" and o.get("message")
              for o in requests), "a refused login is a warn with a message")
    for name, secret in [("password", PASSWORD)] + [
            ("token/lease %d" % i, s) for i, s in enumerate(secrets)]:
        check(secret not in log, "no %s in the log" % name)


def check_text_and_token(workdir):
    serve = ServeProcess(SYNCSTACK, "--store", "memory:", "--listen",
                         "127.0.0.1:0", "--log-format", "text",
                         "--metrics-token", "scrape-me")
    port = serve.port
    status, _, _ = call_raw(port, "/metrics")
    check(status == 401, "--metrics-token: /metrics without it is 401")
    status, _, _ = call_raw(port, "/metrics", token="wrong")
    check(status == 401, "--metrics-token: a wrong token is 401")
    status, _, body = call_raw(port, "/metrics", token="scrape-me")
    check(status == 200 and "syncstack_http_requests_total" in body,
          "--metrics-token: /metrics with it is 200")
    status, _, _ = call_raw(port, "/healthz")
    check(status == 200, "--metrics-token: /healthz still wants none")
    call_raw(port, "/healthz", request_id="text-id-7")
    check(serve.stop(timeout=30) == 0, "text server stops cleanly")
    log = serve.stderr()
    check('request_id="text-id-7"' in log and " healthz 200 " in log,
          "text log lines name request id, endpoint and status")
    check("scrape-me" not in log, "no metrics token in the text log")
    quiet = ServeProcess(SYNCSTACK, "--store", "memory:", "--listen",
                         "127.0.0.1:0", "--log-requests", "off")
    call_raw(quiet.port, "/healthz")
    check(quiet.stop(timeout=30) == 0, "quiet server stops cleanly")
    check(" healthz " not in quiet.stderr(),
          "--log-requests off: no request lines")
    r = run(SYNCSTACK, "serve", "--store", "memory:", "--listen",
            "127.0.0.1:0", "--log-format", "xml")
    check(r.returncode != 0 and "--log-format" in r.stderr,
          "a bad --log-format is one clear error")


def main():
    with tempfile.TemporaryDirectory() as workdir:
        store = "sqlite:" + os.path.join(workdir, "server.db")
        r = run(SYNCSTACK, "user", "add", "--store", store, "--user", "alice",
                "--password", PASSWORD)
        check(r.returncode == 0, "user add: " + r.stderr.strip())
        serve = ServeProcess(SYNCSTACK, "--store", store, "--listen",
                             "127.0.0.1:0", "--log-format", "json")
        secrets = []
        try:
            check_health(serve.port)
            check_request_ids(serve.port)
            check_metrics(serve.port, workdir, secrets)
        finally:
            code = serve.stop(timeout=30)
        check(code == 0, "serve stops cleanly")
        check_json_log(serve.stderr(), secrets)
        check_text_and_token(workdir)
    return checks.verdict()


if __name__ == "__main__":
    sys.exit(main())
