#!/usr/bin/env python3
"""Issue 15 item 5 with the real binary on 127.0.0.1: `user list`,
`user remove` (the user's records, metadata, tokens and lease go, in one
transaction) and `user add --replace`, on one server store kind.

usage: user_admin_e2e.py <path to syncstack> sqlite|lmdb|postgres
PostgreSQL needs scripts/with-postgres.sh (exit 77 = skipped without it,
a failure under CI=true). Exit status 0 when every check passed.
"""
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "kits"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from e2e_checks import Checks, pg_tool  # noqa: E402
from e2e_checks import call as http_call  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

SYNCSTACK, KIND = sys.argv[1], sys.argv[2]
checks = Checks()
check = checks.check
IDS = ["00112233-4455-6677-8899-aabbccddee%02x" % i for i in range(4)]
STAMP = "2013-05-01 15:49:30.000"


def call(port, method, path, body=None, token=None, lease=None):
    return http_call(port, method, path, body, token=token, lease=lease,
                     timeout=30)


def user(store, *args):
    return subprocess.run([SYNCSTACK, "user", *args, "--store", store],
                          capture_output=True, text=True, timeout=60)


def login(port, name, password):
    status, body, _ = call(port, "POST", "/v1/login",
                           {"user": name, "password": password})
    return status, (body or {}).get("token")


def push(port, token, device, body):
    """One synchronise.json under the lock, released afterwards; returns
    the statuses of the three calls."""
    status, lock, _ = call(port, "POST", "/v1/lock", {"device": device},
                           token=token)
    if status != 200:
        return status, None
    status, _, _ = call(port, "POST", "/v1/synchronise.json", body,
                        token=token, lease=lock["lease"])
    released, _, _ = call(port, "DELETE", "/v1/lock", token=token,
                          lease=lock["lease"])
    return status, released


def list_json(store):
    r = user(store, "list", "--json")
    rows = [json.loads(line) for line in r.stdout.splitlines() if line]
    return r, {row["name"]: row for row in rows}


def account_rows_sqlite(path, account):
    db = sqlite3.connect(path)
    try:
        records = db.execute(
            "SELECT count(*) FROM records WHERE cid IN "
            "(SELECT cid FROM collections WHERE account=?)",
            (account,)).fetchone()[0]
        meta = db.execute("SELECT count(*) FROM meta WHERE account=?",
                          (account,)).fetchone()[0]
        return records + meta
    finally:
        db.close()


def account_rows_postgres(conninfo, schema, account):
    psql = pg_tool("psql")
    if psql is None:
        return None
    sql = ("SELECT (SELECT count(*) FROM \"%s\".records WHERE account='%s') + "
           "(SELECT count(*) FROM \"%s\".meta WHERE account='%s') || ',' || "
           "(SELECT coalesce(max(token), '-') FROM \"%s\".locks "
           "WHERE account='%s')" % (schema, account, schema, account, schema,
                                    account))
    r = subprocess.run([psql, "-At", "-d", conninfo, "-c", sql],
                       capture_output=True, text=True)
    return r.stdout.strip()


def check_cli_refusals(work, store):
    missing = os.path.join(work, "missing.db")
    for args in (["list"], ["remove", "--user", "alice"]):
        r = subprocess.run([SYNCSTACK, "user", *args, "--store",
                            "sqlite:" + missing],
                           capture_output=True, text=True)
        check(r.returncode == 1 and "no store at" in r.stderr
              and not os.path.exists(missing),
              "user %s on a missing store: exit 1, nothing created (%s)"
              % (args[0], r.stderr.strip()))
    r = user(store, "remove", "--user", "nobody")
    check(r.returncode == 1 and 'no user "nobody"' in r.stderr,
          "user remove of an unknown user: exit 1 naming it")
    r = user(store, "remove", "--user", "_users")
    check(r.returncode == 1 and "bad user name" in r.stderr,
          "user remove of a reserved name is refused")
    r = user(store, "add", "--user", "bob", "--password", "other")
    check(r.returncode == 1 and "exists" in r.stderr,
          "user add of an existing user without --replace: exit 1")


def check_list(store, before_login):
    r = user(store, "list")
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and lines and lines[0].split()[0] == "NAME"
          and "LAST LOGIN" in lines[0], "user list prints a table header")
    rows = {line.split()[0]: line for line in lines[1:]}
    check(set(rows) == {"alice", "bob"}, "user list lists alice and bob")
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
    check(all(len(stamp.findall(rows[n])) == (1 if before_login else 2)
              for n in rows),
          "table: a creation time each, %s" %
          ("no login yet ('-')" if before_login else "and a last login"))
    if before_login:
        check(all(rows[n].rstrip().endswith("-") for n in rows),
              "table: '-' for no last login")
    r, users = list_json(store)
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    check(r.returncode == 0 and set(users) == {"alice", "bob"}
          and all(iso.match(u["created"]) for u in users.values()),
          "user list --json: one object a line, ISO creation times")
    check(all((u["last_login"] is None) == before_login
              for u in users.values()),
          "user list --json: last_login %s" %
          ("null before any login" if before_login else "set after login"))


def scenario(work, store, raw_rows):
    for name in ("alice", "bob"):
        r = user(store, "add", "--user", name, "--password", name + "-pw")
        check(r.returncode == 0, "user add " + name)
    check_cli_refusals(work, store)
    check_list(store, before_login=True)
    serve = ServeProcess(SYNCSTACK, "--store", store, "--listen",
                         "127.0.0.1:0")
    try:
        port = serve.port
        _, alice = login(port, "alice", "alice-pw")
        _, bob = login(port, "bob", "bob-pw")
        check(alice is not None and bob is not None, "both log in")
        status, released = push(port, alice, "phone", {
            "add": {"todo": [{"id": IDS[0], "t": "a", "last_update": STAMP},
                             {"id": IDS[1], "t": "b", "last_update": STAMP}],
                    "notes": [{"id": IDS[2], "n": 1, "last_update": STAMP}]},
            "delete": {"todo": [IDS[1]]}})
        check(status == 200 and released == 204, "alice writes records in "
              "two collections and a tombstone")
        status, released = push(port, bob, "laptop", {
            "add": {"todo": [{"id": IDS[0], "t": "bob's",
                              "last_update": STAMP}]}})
        check(status == 200 and released == 204,
              "bob writes a record with the same id")
        check_list(store, before_login=False)
        before = raw_rows("alice")
        check(before is None or before not in (0, "0,-"),
              "alice's rows are in the store (%s)" % before)

        # alice holds the lock while she is removed.
        status, lock, _ = call(port, "POST", "/v1/lock", {"device": "phone"},
                               token=alice)
        check(status == 200, "alice holds the lock")
        r = user(store, "remove", "--user", "alice")
        check(r.returncode == 0 and "removed" in r.stdout,
              "user remove alice while serve runs: " + r.stdout.strip())
        status, _, _ = call(port, "GET", "/v1/fetch.json", token=alice)
        check(status == 401, "her token gets 401 at once (%d)" % status)
        status, _, _ = call(port, "POST", "/v1/synchronise.json",
                            {"add": {"todo": [{"id": IDS[3],
                                               "last_update": STAMP}]}},
                            token=alice, lease=lock["lease"])
        check(status == 401, "a write with her token and lease: 401")
        status, _ = login(port, "alice", "alice-pw")
        check(status == 401, "she cannot log in")
        after = raw_rows("alice")
        check(after is None or after in (0, "0,"),
              "none of her records, tombstones, metadata or lease is left "
              "in the store (%s)" % after)
        r, users = list_json(store)
        check(set(users) == {"bob"}, "user list: only bob is left")

        status, body, _ = call(port, "GET", "/v1/fetch.json", token=bob)
        check(status == 200 and [x["id"] for x in body.get("todo", [])]
              == [IDS[0]], "bob's record is still there")

        # A new alice starts with an empty account.
        r = user(store, "add", "--user", "alice", "--password", "new-pw")
        check(r.returncode == 0, "alice added again")
        _, alice2 = login(port, "alice", "new-pw")
        status, body, _ = call(port, "GET", "/v1/manifest", token=alice2)
        check(status == 200 and body.get("collections") == []
              and body.get("seq") == 0,
              "the new alice has no collections and write sequence 0 (%s)"
              % body)
        status, body, _ = call(port, "GET", "/v1/fetch.json", token=alice2)
        check(status == 200 and body == {}, "her fetch.json is empty")
        if KIND == "postgres":
            # The lease lives in the database, and the removal reset it.
            status, _, _ = call(port, "POST", "/v1/lock",
                                {"device": "tablet"}, token=alice2)
            check(status == 200, "postgres: the old lease went with the "
                  "account, another device gets the lock at once")

        # --replace: bob's earlier token ends, the new password works.
        r = user(store, "add", "--user", "bob", "--password", "bob-2",
                 "--replace")
        check(r.returncode == 0 and "updated" in r.stdout,
              "user add --replace bob")
        status, _, _ = call(port, "GET", "/v1/fetch.json", token=bob)
        check(status == 401, "bob's earlier token: 401")
        check(login(port, "bob", "bob-pw")[0] == 401,
              "bob's old password fails")
        status, bob2 = login(port, "bob", "bob-2")
        check(status == 200, "bob's new password works")
        status, body, _ = call(port, "GET", "/v1/fetch.json", token=bob2)
        check(status == 200 and len(body.get("todo", [])) == 1,
              "--replace kept bob's records")
    finally:
        code = serve.stop()
        check(code == 0, "serve stopped cleanly (%s)" % code)


def main():
    with tempfile.TemporaryDirectory() as work:
        if KIND == "sqlite":
            path = os.path.join(work, "server.db")
            scenario(work, "sqlite:" + path,
                     lambda a: account_rows_sqlite(path, a))
        elif KIND == "lmdb":
            scenario(work, "lmdb:" + os.path.join(work, "server.lmdb"),
                     lambda a: None)
        else:
            import pg_env  # noqa: E402  (exits 77 without a server)
            conninfo = pg_env.conninfo_or_skip()
            schema = pg_env.new_schema("users")
            try:
                scenario(work, pg_env.store_uri(schema),
                         lambda a: account_rows_postgres(conninfo, schema, a))
            finally:
                pg_env.drop_schemas()
    sys.exit(checks.verdict())


if __name__ == "__main__":
    main()
