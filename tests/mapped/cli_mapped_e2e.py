#!/usr/bin/env python3
"""`syncstack sync --schema` on an app's own SQLite tables, bad input first:
a schema naming a missing table, a table without a primary key, and a
non-UUID id written by the app before attaching each end the command with
one clear line and exit 1, and leave the app's database as it was; then
the fixed database syncs, `ls` reads it without --schema, and once
attached an app's insert of a non-UUID id is refused in its own statement
while the other rows keep syncing.

usage: cli_mapped_e2e.py <path to syncstack>
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kits"))
from serve_process import ServeProcess  # noqa: E402

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(*args):
    return subprocess.run([BINARY, *args], capture_output=True, text=True,
                          timeout=120)


def dump(path):
    db = sqlite3.connect(path)
    rows = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY "
                      "name").fetchall()
    data = db.execute("SELECT * FROM couples ORDER BY id").fetchall()
    db.close()
    return rows, data


def main(workdir):
    schema = os.path.join(workdir, "schema.json")
    app = os.path.join(workdir, "app.db")
    db = sqlite3.connect(app, isolation_level=None)
    db.executescript("""
        CREATE TABLE couples(id TEXT PRIMARY KEY, names TEXT NOT NULL);
        CREATE TABLE loose(id TEXT, note TEXT);
        INSERT INTO couples VALUES('couple-1', 'Anna & Ben');
    """)
    server_db = os.path.join(workdir, "server.db")
    r = run("user", "add", "--store", "sqlite:" + server_db, "--user", "anna",
            "--password", "pw")
    check(r.returncode == 0, "user add")
    serve = ServeProcess(BINARY, "--store", "sqlite:" + server_db, "--listen",
                         "127.0.0.1:0")
    url = serve.url
    try:
        def sync(mapping):
            with open(schema, "w") as f:
                json.dump({"collections": mapping}, f)
            return run("sync", "--store", "sqlite:" + app, "--schema", schema,
                       "--remote", url, "--user", "anna", "--password", "pw",
                       "--device", "phone")

        before = dump(app)
        cases = [
            ({"gifts": {"id": "id", "table": "gifts"}},
             'collection "gifts": no table "gifts" in the database'),
            ({"loose": {"id": "id", "table": "loose"}},
             'table "loose" has no primary key'),
            ({"couples": {"id": "cid", "table": "couples"}},
             'table "couples" has no column "cid"'),
            ({"couples": {"id": "id", "table": "couples"}},
             "table \"couples\" row id='couple-1': the id is not a UUID"),
        ]
        for mapping, want in cases:
            r = sync(mapping)
            lines = r.stderr.strip().splitlines()
            check(r.returncode == 1 and len(lines) == 1 and want in lines[0],
                  "refused: %s (%s)" % (want, r.stderr.strip()))
            check(dump(app) == before, "  and the app's database is unchanged")

        # The app fixes its id: the row is pushed as created offline.
        uid = "6f1c3f0e-8a55-4f0e-9d3b-2a7d1c9e0b11"
        db.execute("UPDATE couples SET id = ? WHERE id = 'couple-1'", (uid,))
        r = sync({"couples": {"id": "id", "table": "couples"}})
        check(r.returncode == 0 and "1 added" in r.stdout,
              "the fixed database syncs: " + (r.stdout + r.stderr).strip())
        r = run("ls", "--store", "sqlite:" + app, "--json")
        check(r.returncode == 0 and uid in r.stdout and "Anna & Ben" in r.stdout,
              "ls reads the app's table without --schema: " + r.stdout.strip())

        # Attached, a non-UUID id is refused in the app's own statement,
        # and the other rows keep syncing.
        try:
            db.execute("INSERT INTO couples VALUES('couple-2', 'Cy & Di')")
            err = ""
        except sqlite3.DatabaseError as e:
            err = str(e)
        check('table "couples": the id column "id" takes lower-case UUIDs'
              in err, "the app's non-UUID insert is refused: " + err)
        uid2 = "6f1c3f0e-8a55-4f0e-9d3b-2a7d1c9e0b12"
        db.execute("INSERT INTO couples VALUES(?, 'Cy & Di')", (uid2,))
        r = sync({"couples": {"id": "id", "table": "couples"}})
        check(r.returncode == 0 and "1 added" in r.stdout,
              "the next row syncs: " + (r.stdout + r.stderr).strip())
    finally:
        serve.stop(timeout=30)
        db.close()


if __name__ == "__main__":
    BINARY = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="syncstack-mapped-cli-") as d:
        main(d)
    print("%d check(s) failed" % len(failures) if failures
          else "all checks passed")
    sys.exit(1 if failures else 0)
