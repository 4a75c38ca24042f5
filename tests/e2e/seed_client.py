#!/usr/bin/env python3
"""A seed-dialect client written from PROTOCOL.md and the seed article alone.

It uses raw HTTP and JSON only (no syncstack code), keeps its local database
as a dict with the seed's `synced` flag, and follows the seed's three cases
step by step against a real `syncstack serve` process on 127.0.0.1. It also
walks PROTOCOL.md's status table over real sockets.

usage: seed_client.py <path to syncstack> <data dir with seed_schema.json>
                      [sqlite | lmdb | postgres]
The server's store (default sqlite). postgres uses the server in
SYNCSTACK_PG_CONNINFO (scripts/with-postgres.sh) in a fresh schema, dropped
afterwards; without it the run is skipped (exit 77), or fails under CI=true.
Exit status 0 when every check passed.
"""
import calendar
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import pg_env

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kits"))
from e2e_checks import Checks, call  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

SYNCSTACK, DATA = sys.argv[1], sys.argv[2]
STORE_KIND = sys.argv[3] if len(sys.argv) > 3 else "sqlite"
checks = Checks()
check = checks.check


def store_uri(workdir):
    if STORE_KIND == "sqlite":
        return "sqlite:" + os.path.join(workdir, "server.db")
    if STORE_KIND == "lmdb":
        return "lmdb:" + os.path.join(workdir, "server-lmdb")
    if STORE_KIND == "postgres":
        return pg_env.store_uri(pg_env.new_schema("seed"))
    raise SystemExit("unknown store kind " + STORE_KIND)


class Server:
    def __init__(self, workdir, *extra):
        store = store_uri(workdir)
        for user in ("mark", "eve"):
            subprocess.run([SYNCSTACK, "user", "add", "--store", store, "--user",
                            user, "--password", user + "-pw"], check=True,
                           stdout=subprocess.DEVNULL)
        self.serve = ServeProcess(
            SYNCSTACK, "--store", store, "--listen", "127.0.0.1:0",
            "--schema", os.path.join(DATA, "seed_schema.json"), *extra)
        self.port = self.serve.port

    def stop(self):
        # Generous: the machine may be loaded by the other tests.
        code = self.serve.stop(timeout=30)
        if code != 0:
            print(self.serve.stderr(), end="", flush=True)
        return code


def is_error(status, body, code):
    return (isinstance(body, dict) and body.get("error") == code
            and isinstance(body.get("message"), str))


class SeedDevice:
    """The seed's device: a local table per collection, rows with a `synced`
    flag; ids are UUIDs; `last_update` strings as the server gives them."""

    ID_KEYS = {"budget": "bid", "todo": "id"}

    def __init__(self, port, user, name):
        self.port, self.user, self.name = port, user, name
        self.tables = {c: {} for c in self.ID_KEYS}
        self.deleted = {c: [] for c in self.ID_KEYS}  # deleted since last sync
        self.cases = set()

    def write(self, collection, rid, fields):
        row = self.tables[collection].get(rid)
        self.tables[collection][rid] = {
            "fields": fields,
            "last_update": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "synced": row["synced"] if row else False,
        }

    def remove(self, collection, rid):
        row = self.tables[collection].pop(rid)
        if row["synced"]:
            self.deleted[collection].append(rid)

    def sync(self):
        status, login, _ = call(self.port, "POST", "/v1/login",
                                {"user": self.user, "password": self.user + "-pw"})
        assert status == 200, login
        token = login["token"]
        status, lock, _ = call(self.port, "POST", "/v1/lock",
                               {"device": self.name}, token=token)
        assert status == 200, lock
        lease = lock["lease"]
        # Step 1: the manifest.
        status, manifest, _ = call(self.port, "GET", "/v1/fetch.json",
                                   token=token)
        assert status == 200, manifest
        req = {"add": {}, "update": {}, "delete": {}, "get": {}}
        for c, key in self.ID_KEYS.items():
            server = {e[key]: e["last_update"] for e in manifest.get(c, [])}
            local = self.tables[c]
            req["add"][c], req["update"][c] = [], []
            req["get"][c], req["delete"][c] = [], list(self.deleted[c])
            for rid, stamp in server.items():
                if rid in self.deleted[c]:
                    continue
                if rid not in local:  # case 1
                    req["get"][c].append(rid)
                    self.cases.add(1)
                else:  # case 2: newer wins (the server's format sorts)
                    mine = local[rid]["last_update"]
                    if local[rid]["synced"] and mine == stamp:
                        continue
                    self.cases.add(2)
                    if mine > stamp:
                        req["update"][c].append(self.record(c, rid))
                    else:
                        req["get"][c].append(rid)
            for rid, row in list(local.items()):
                if rid in server:
                    continue
                self.cases.add(3)  # case 3
                if not row["synced"]:
                    req["add"][c].append(self.record(c, rid))
                else:
                    del local[rid]  # deleted on the server
        # Step 2: synchronise.
        status, answer, _ = call(self.port, "POST", "/v1/synchronise.json",
                                 req, token=token, lease=lease)
        assert status == 200, answer
        for c, key in self.ID_KEYS.items():
            for s in answer["stamps"].get(c, []):
                row = self.tables[c].get(s[key])
                if row:
                    row["last_update"], row["synced"] = s["last_update"], True
            for rec in answer["get"].get(c, []):
                rec = dict(rec)
                rid, stamp = rec.pop(key), rec.pop("last_update")
                self.tables[c][rid] = {"fields": rec, "last_update": stamp,
                                       "synced": True}
            self.deleted[c] = []
        status, _, _ = call(self.port, "DELETE", "/v1/lock", token=token,
                            lease=lease)
        assert status == 204

    def record(self, c, rid):
        row = self.tables[c][rid]
        return {self.ID_KEYS[c]: rid, **row["fields"],
                "last_update": row["last_update"]}

    def snapshot(self):
        return {c: {rid: row["fields"] for rid, row in t.items()}
                for c, t in self.tables.items()}


def status_table(port):
    s, login, _ = call(port, "POST", "/v1/login",
                       {"user": "mark", "password": "wrong"})
    check(s == 401 and is_error(s, login, "unauthorized"), "401 wrong password")
    s, body, _ = call(port, "GET", "/v1/fetch.json")
    check(s == 401 and is_error(s, body, "unauthorized"), "401 without token")
    s, body, _ = call(port, "GET", "/v1/fetch.json", token="made-up")
    check(s == 401 and is_error(s, body, "unauthorized"), "401 bad token")
    _, login, _ = call(port, "POST", "/v1/login",
                       {"user": "mark", "password": "mark-pw"})
    token = login["token"]
    check(isinstance(login.get("expires_in"), int), "login gives expires_in")
    s, body, _ = call(port, "GET", "/v1/nothing-here", token=token)
    check(s == 404 and is_error(s, body, "not_found"), "404 unknown endpoint")
    s, body, resp = call(port, "GET", "/v1/fetch.json", token=token)
    check(s == 200 and set(body) == {"budget", "invitation_categories",
                                     "invitations", "wishlist", "gift_list",
                                     "todo"} and body["todo"] == [],
          "fetch lists every schema collection, [] when empty")
    check(resp.getheader("Transfer-Encoding") == "chunked"
          and resp.getheader("Content-Length") is None,
          "fetch.json comes chunked (streamed as it is read)")
    s, body, _ = call(port, "GET", "/v1/fetch.json?collections=budget,todo",
                      token=token)
    check(s == 200 and set(body) == {"budget", "todo"}, "?collections= limits")
    s, body, _ = call(port, "POST", "/v1/synchronise.json", {}, token=token)
    check(s == 428 and is_error(s, body, "lease_required"), "428 no lease")
    s, body, _ = call(port, "POST", "/v1/synchronise.json", {}, token=token,
                      lease="not-mine")
    check(s == 409 and is_error(s, body, "lease_lost"), "409 foreign lease")
    s, lock, _ = call(port, "POST", "/v1/lock", {"device": "android"},
                      token=token)
    check(s == 200 and lock.get("lease"), "lock granted")
    s, body, _ = call(port, "POST", "/v1/lock", token=token,
                      raw=b'{"device":"' + b"x" * 70000 + b'"}')
    check(s == 413 and is_error(s, body, "too_large")
          and "for POST /v1/lock" in body["message"],
          "413 for a lock body over the lock's 64 KiB")
    lease = lock["lease"]
    s, body, resp = call(port, "POST", "/v1/lock", {"device": "ios"},
                         token=token)
    check(s == 423 and is_error(s, body, "locked")
          and body.get("retry_after", 0) > 0
          and resp.getheader("Retry-After") is not None,
          "423 while another device holds the lock, with Retry-After")
    # A device name is no proof: the holder's name without its lease and
    # without its device secret takes nothing over, and the 423 does not
    # tell who holds the lock (issue 14).
    s, body, resp = call(port, "POST", "/v1/lock", {"device": "android"},
                         token=token)
    check(s == 423 and is_error(s, body, "locked")
          and "android" not in json.dumps(body)
          and "android" not in json.dumps(resp.getheaders()),
          "423 for the holder's name without lease or secret, naming no one")
    s, body, _ = call(port, "POST", "/v1/lock",
                      {"device": "android", "_device_secret": "0" * 32},
                      token=token)
    check(s == 423 and is_error(s, body, "locked"),
          "423 for the holder's name with a wrong device secret")
    secret = lock.get("_device_secret")
    check(isinstance(secret, str) and len(secret) == 32,
          "the first grant gives the device a secret")
    s, body, _ = call(port, "POST", "/v1/lock",
                      {"device": "android", "_device_secret": secret},
                      token=token)
    check(s == 200 and body.get("lease") not in (None, lease)
          and "_device_secret" not in body,
          "the holder's secret takes its own lease over (a new lease)")
    s, body, _ = call(port, "POST", "/v1/lock", {"device": "android"},
                      token=token, lease=lease)
    check(s == 423, "the lease taken over no longer renews")
    s, body, _ = call(port, "POST", "/v1/lock",
                      {"device": "android", "_device_secret": secret},
                      token=token)
    check(s == 200 and body.get("lease"), "the holder takes over again")
    lease = body["lease"]
    s, body, _ = call(port, "POST", "/v1/lock", {"device": "android"},
                      token=token, lease=lease)
    check(s == 200 and body["lease"] == lease, "the holder renews its lease")
    seed = open(os.path.join(DATA, "seed_synchronise.json"), "rb").read()
    s, body, _ = call(port, "POST", "/v1/synchronise.json", token=token,
                      lease=lease, raw=seed)
    check(s == 400 and is_error(s, body, "bad_request")
          and "gifts" in body["message"],
          "400 for the seed body's unknown collection, naming it")
    bad = [(b"{not json", "bad JSON"),
           (b'{"add": {"budget": [{"cost": 1}]}}', "record without its id key"),
           (b'{"delete": {"todo": ["nope"]}}', "bad UUID"),
           (b'{"add": {"todo": "x"}}', "wrong type"),
           (b'{"add":{"todo":[{"id":"' + str(uuid.uuid4()).encode() +
            b'","x":' + b"[" * 3000 + b"]" * 3000 + b"}]}}", "nesting too deep")]
    for raw, what in bad:
        s, body, _ = call(port, "POST", "/v1/synchronise.json", token=token,
                          lease=lease, raw=raw)
        check(s == 400 and is_error(s, body, "bad_request"), "400 " + what)
    # Issue 14 item 3: the offset applies before the range check.
    for stamp in ("0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01",
                  "1969-12-31 23:59:59"):
        raw = ('{"add":{"todo":[{"id":"%s","title":"t","last_update":"%s"}]}}'
               % (uuid.uuid4(), stamp)).encode()
        s, body, _ = call(port, "POST", "/v1/synchronise.json", token=token,
                          lease=lease, raw=raw)
        check(s == 400 and is_error(s, body, "bad_request")
              and "add.todo[0]" in body["message"]
              and "outside 1970-01-01" in body["message"],
              "400 naming the record for the timestamp " + stamp)
    s, body, _ = call(port, "POST", "/v1/synchronise.json", token=token,
                      lease=lease, raw=b'{"add":{"todo":[]},"x":"' +
                      b"y" * 70000 + b'"}')
    check(s == 413 and is_error(s, body, "too_large"), "413 body over the limit")
    s, body, _ = call(port, "GET", "/v1/fetch.json", token=token)
    check(s == 200 and all(v == [] for v in body.values()),
          "after every refused request nothing was written")
    idempotency_keys(port, token, lease)
    call(port, "DELETE", "/v1/lock", token=token, lease=lease)


def idempotency_keys(port, token, lease):
    """A key is bound to its request: the same request again gets the first
    answer, a different one under the same key a 400 naming the key."""
    first_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())

    def add(rid, text):
        return {"add": {"todo": [{"id": rid, "t": text}]}, "update": {},
                "delete": {}, "get": {}}
    s, first, _ = call(port, "POST", "/v1/synchronise.json", add(first_id, "a"),
                       token=token, lease=lease, idem="seed-key-1")
    check(s == 200, "a write under an Idempotency-Key")
    s, again, _ = call(port, "POST", "/v1/synchronise.json", add(first_id, "a"),
                       token=token, lease=lease, idem="seed-key-1")
    check(s == 200 and again == first,
          "the same request under the same key gets the first answer")
    s, body, _ = call(port, "POST", "/v1/synchronise.json",
                      add(other_id, "b"), token=token, lease=lease,
                      idem="seed-key-1")
    check(s == 400 and is_error(s, body, "bad_request")
          and "seed-key-1" in body["message"],
          "400 naming the key for a different request under a used key")
    s, body, _ = call(port, "GET", "/v1/fetch.json?collections=todo",
                      token=token)
    ids = [r["id"] for r in body["todo"]] if s == 200 else []
    check(ids == [first_id], "the refused request applied nothing, the "
          "repeated one applied once")


def fingerprint(entries):
    """The (id, version) set fingerprint of docs/protocol.md, from the
    protocol's text alone: the wrapping sum of each live record's hash."""
    total = 0
    for e in entries:
        text = e["last_update"]
        ms = calendar.timegm(time.strptime(text[:19], "%Y-%m-%d %H:%M:%S"))
        ms = ms * 1000 + int(text[20:23] or 0)
        data = (uuid.UUID(e["id"]).bytes + (ms % 2**64).to_bytes(8, "little")
                + e.get("_version", "").encode())
        total += int.from_bytes(hashlib.sha256(data).digest()[:8], "little")
    return "%016x" % (total % 2**64)


def changes_feed(port, device):
    """GET /v1/changes against the real server, after the seed devices'
    syncs: every row of todo in sequence order, the live count and the
    fingerprint a client computes itself, paging, and the refusals."""
    _, login, _ = call(port, "POST", "/v1/login",
                       {"user": "mark", "password": "mark-pw"})
    token = login["token"]
    s, body, _ = call(port, "GET", "/v1/changes?collection=todo")
    check(s == 401 and is_error(s, body, "unauthorized"),
          "changes: 401 without a token")
    s, page, _ = call(port, "GET", "/v1/changes?collection=todo&after=0",
                      token=token)
    check(s == 200 and set(page) == {"collection", "id_key", "changes",
                                     "more", "last", "seq", "count",
                                     "fingerprint"},
          "changes: 200 with the page's members")
    seqs = [e["_seq"] for e in page["changes"]]
    check(seqs == sorted(set(seqs)) and page["last"] == seqs[-1]
          and page["last"] <= page["seq"] and not page["more"],
          "changes: entries in strictly ascending sequence")
    live = [e for e in page["changes"] if not e.get("_deleted")]
    dead = [e for e in page["changes"] if e.get("_deleted")]
    check(sorted(e["id"] for e in live) == sorted(device.tables["todo"]),
          "changes: the live rows are the device's records")
    check(len(dead) >= 1 and all(set(e) == {"id", "last_update", "_seq",
                                            "_deleted"} for e in dead),
          "changes: the delete is there as a tombstone")
    check(page["count"] == len(live)
          and page["fingerprint"] == fingerprint(live),
          "changes: count and fingerprint as a client computes them")
    s, first, _ = call(port, "GET", "/v1/changes?collection=todo&limit=1",
                       token=token)
    s2, rest, _ = call(port, "GET", "/v1/changes?collection=todo&after=%d"
                       % first["last"], token=token)
    check(s == 200 and s2 == 200 and first["more"]
          and first["changes"] + rest["changes"] == page["changes"],
          "changes: paging by last gives the same rows")
    s, body, _ = call(port, "GET", "/v1/changes?collection=todo&after=%d"
                      % (page["seq"] + 1), token=token)
    check(s == 410 and is_error(s, body, "changes_refused"),
          "changes: 410 past the server's write sequence")
    s, body, _ = call(port, "GET", "/v1/changes?collection=todo&limit=0",
                      token=token)
    check(s == 400 and is_error(s, body, "bad_request")
          and "limit" in body["message"], "changes: 400 naming limit")


def main():
    print("server store: " + STORE_KIND, flush=True)
    if STORE_KIND == "postgres":
        pg_env.conninfo_or_skip()
    with tempfile.TemporaryDirectory() as workdir:
        server = Server(workdir, "--max-body", "65536")
        try:
            status_table(server.port)

            # The seed's story: two devices, offline edits, the three cases.
            phone = SeedDevice(server.port, "mark", "phone")
            tablet = SeedDevice(server.port, "mark", "tablet")
            ids = [str(uuid.uuid4()) for _ in range(4)]
            phone.write("budget", ids[0], {"expense_title": "Wedding rings",
                                           "cost": 300, "status": 1})
            phone.write("todo", ids[1], {"title": "call florist", "done": False})
            phone.write("todo", ids[2], {"title": "send invitations"})
            phone.sync()  # case 3: created offline -> add
            tablet.sync()  # case 1: missing locally -> get
            check(tablet.snapshot() == phone.snapshot(), "tablet got it all")
            time.sleep(1.1)  # the seed's timestamps have whole seconds
            tablet.write("todo", ids[1], {"title": "call florist at 9",
                                          "done": False})
            tablet.remove("todo", ids[2])
            phone.write("todo", ids[3], {"title": "book venue"})
            tablet.sync()  # case 2 push; delete
            phone.sync()  # case 2 pull; case 3 deleted on server; add
            tablet.sync()  # case 1
            check(tablet.snapshot() == phone.snapshot(),
                  "both devices converge")
            check(phone.cases | tablet.cases == {1, 2, 3},
                  "each of the seed's three cases happened")
            check(phone.tables["todo"][ids[1]]["fields"]["title"] ==
                  "call florist at 9", "the newer edit won")
            check(ids[2] not in phone.tables["todo"],
                  "the delete reached the other device")
            changes_feed(server.port, phone)

            # Isolation: eve sees nothing of mark's and cannot touch it.
            eve = SeedDevice(server.port, "eve", "eve-phone")
            eve.sync()
            check(all(t == {} for t in eve.tables.values()),
                  "another user sees none of mark's records")
            s, login, _ = call(server.port, "POST", "/v1/login",
                               {"user": "eve", "password": "eve-pw"})
            tok = login["token"]
            _, lock, _ = call(server.port, "POST", "/v1/lock",
                              {"device": "x"}, token=tok)
            s, answer, _ = call(server.port, "POST", "/v1/synchronise.json",
                                {"get": {"todo": [ids[1]]},
                                 "update": {"todo": [{"id": ids[3],
                                                      "title": "hijacked"}]}},
                                token=tok, lease=lock["lease"])
            check(s == 200 and answer["get"].get("todo", []) == [],
                  "get of another user's id returns nothing")
            phone.sync()
            check(phone.tables["todo"][ids[3]]["fields"]["title"] ==
                  "book venue", "update of another user's id changes nothing")
            s, _, _ = call(server.port, "GET", "/v1/fetch.json", token=tok)
            check(s == 200, "the server is still up")
        finally:
            code = server.stop()
        check(code == 0, "serve stops cleanly on SIGTERM")
    pg_env.drop_schemas()
    return checks.verdict()


if __name__ == "__main__":
    sys.exit(main())
