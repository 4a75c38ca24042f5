#!/usr/bin/env python3
"""A device clock 1,000 years fast against the real `syncstack serve`
(issue 14, item 4), over raw HTTP on 127.0.0.1 and with `syncstack sync`.

With `serve --max-clock-ahead 5m` a write stamped 2999-01-01 is restamped
with the server's clock: its answer's stamp carries the server's time, a
later real edit wins, and the server logs the restamp. With
`--max-clock-ahead off` (the old behaviour) the year 2999 wins. A bad value
stops serve. `syncstack sync` of a record stamped 2999 prints how many
writes were restamped.

usage: clock_ahead.py <path to syncstack> <data dir with seed_schema.json>
Exit status 0 when every check passed.
"""
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kits"))
from e2e_checks import Checks  # noqa: E402
from e2e_checks import call as http_call  # noqa: E402
from e2e_checks import run as run_binary  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

SYNCSTACK, DATA = sys.argv[1], sys.argv[2]
FAR = "2999-01-01 00:00:00"
FAR_MS = 32472144000000
checks = Checks()
check = checks.check


def run(*args):
    return run_binary(SYNCSTACK, *args)


def call(port, method, path, body=None, token=None, lease=None):
    status, answer, _ = http_call(port, method, path, body, token=token,
                                  lease=lease)
    return status, answer


def now_text():
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


class Session:
    """One device's login and lease, raw HTTP."""

    def __init__(self, port, device, client_time_ms):
        self.port = port
        s, login = call(port, "POST", "/v1/login",
                        {"user": "mark", "password": "mark-pw"})
        assert s == 200, login
        self.token = login["token"]
        s, self.lock = call(port, "POST", "/v1/lock",
                            {"device": device,
                             "_client_time_ms": client_time_ms},
                            token=self.token)
        assert s == 200, self.lock
        self.lease = self.lock["lease"]

    def synchronise(self, request):
        return call(self.port, "POST", "/v1/synchronise.json", request,
                    token=self.token, lease=self.lease)

    def close(self):
        s, _ = call(self.port, "DELETE", "/v1/lock", token=self.token,
                    lease=self.lease)
        assert s == 204


def empty_request():
    return {"add": {}, "update": {}, "delete": {}, "get": {}}


def start(workdir, name, *extra):
    store = "sqlite:" + os.path.join(workdir, name + ".db")
    run("user", "add", "--store", store, "--user", "mark", "--password",
        "mark-pw")
    return ServeProcess(SYNCSTACK, "--store", store, "--listen",
                        "127.0.0.1:0", "--schema",
                        os.path.join(DATA, "seed_schema.json"), *extra)


def far_write_then_real_edit(port):
    """A device 1,000 years fast adds a record; a right device edits it a
    second later. Returns (the far write's stamp, the final title, the
    fast device's clock offset)."""
    rid = str(uuid.uuid4())
    fast = Session(port, "fast", FAR_MS)
    req = empty_request()
    req["add"]["todo"] = [{"id": rid, "title": "from 2999",
                           "last_update": FAR}]
    s, answer = fast.synchronise(req)
    assert s == 200, answer
    stamp = answer["stamps"]["todo"][0]["last_update"]
    fast.close()
    time.sleep(1.1)
    right = Session(port, "right", int(time.time() * 1000))
    req = empty_request()
    req["update"]["todo"] = [{"id": rid, "title": "real edit",
                              "last_update": now_text()}]
    req["get"]["todo"] = [rid]
    s, answer = right.synchronise(req)
    assert s == 200, answer
    right.close()
    got = {r["id"]: r for r in answer["get"].get("todo", [])}
    return stamp, got[rid]["title"], fast.lock.get("_clock_offset_ms")


def bounded(workdir):
    serve = start(workdir, "bounded", "--max-clock-ahead", "5m")
    stamp, title, offset = far_write_then_real_edit(serve.port)
    this_year = time.strftime("%Y", time.gmtime())
    check(stamp.startswith(this_year),
          "--max-clock-ahead 5m: a 2999 write is stamped with the server's "
          "clock (%s)" % stamp)
    check(title == "real edit",
          "--max-clock-ahead 5m: a later real edit beats the 2999 write "
          "(%s)" % title)
    check(isinstance(offset, int) and offset > 900 * 365 * 86400 * 1000,
          "the lock answer tells the device its clock offset (%s)" % offset)
    cli_sync(workdir, serve)
    code = serve.stop(timeout=30)
    log = serve.stderr()
    check(code == 0, "serve stopped cleanly")
    check("restamped 1 write(s)" in log and '"fast"' in log,
          "serve logs the restamp:\n" + log)


def unbounded(workdir):
    serve = start(workdir, "unbounded", "--max-clock-ahead", "off")
    stamp, title, _ = far_write_then_real_edit(serve.port)
    check(stamp.startswith("2999"), "--max-clock-ahead off: stamped " + stamp)
    check(title == "from 2999",
          "--max-clock-ahead off: the year 2999 wins (%s)" % title)
    serve.stop(timeout=30)
    check("restamped" not in serve.stderr(), "off: nothing restamped")


def bad_values(workdir):
    store = "sqlite:" + os.path.join(workdir, "bad.db")
    for value in ("5 parsecs", "-5m", "m", "1y"):
        r = run("serve", "--store", store, "--listen", "127.0.0.1:0",
                "--max-clock-ahead", value)
        check(r.returncode != 0 and "--max-clock-ahead" in r.stderr,
              "serve --max-clock-ahead %r refused: %s" %
              (value, r.stderr.strip()))


def cli_sync(workdir, serve):
    """`syncstack sync` pushing a record its store holds stamped 2999."""
    path = os.path.join(workdir, "phone.db")
    store = "sqlite:" + path
    rid = str(uuid.uuid4())
    r = run("put", "--store", store, "--collection", "todo", "--id", rid,
            "--json", json.dumps({"id": rid, "title": "stamped 2999"}))
    check(r.returncode == 0, "put " + r.stderr.strip())
    db = sqlite3.connect(path)
    db.execute("UPDATE records SET ts = ?", (FAR_MS,))
    db.commit()
    db.close()
    r = run("sync", "--store", store, "--remote", serve.url, "--user", "mark",
            "--password", "mark-pw", "--device", "phone")
    check(r.returncode == 0, "sync " + r.stderr.strip())
    check("1 write restamped with the server's clock" in r.stdout,
          "syncstack sync prints the restamp:\n" + r.stdout)
    db = sqlite3.connect(path)
    (ts,) = db.execute("SELECT MAX(ts) FROM records").fetchone()
    db.close()
    check(ts < FAR_MS, "the device's copy holds the server's stamp (%d)" % ts)


def main():
    with tempfile.TemporaryDirectory(prefix="syncstack-clock-") as workdir:
        bounded(workdir)
        unbounded(workdir)
        bad_values(workdir)
    return checks.verdict()


if __name__ == "__main__":
    sys.exit(main())
