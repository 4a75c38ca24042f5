#!/usr/bin/env python3
"""`syncstack serve --schema` with mapped collections, with the real binary.

- On PostgreSQL, a mapping with "account" keeps the records in the
  server's table: serve starts without the old warning; a missing table or
  column is one clear line at start, and nothing is created.
- On SQLite, "account" is refused at start (one clear line); a mapping
  without it keeps the records in syncstack's store, with a warning.

usage: serve_mapped_e2e.py <path to syncstack>
PostgreSQL through scripts/with-postgres.sh (SYNCSTACK_PG_CONNINFO); under
CI=true a missing server is a failure.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


SCHEMA = {"collections": {
    "couples": {"id": "id", "table": "couples", "account": "owner"},
    "budget": {"id": "bid", "table": "budget", "account": "owner",
               "references": {"couple_id": "couples"}}}}

TABLES = """
CREATE TABLE couples(id uuid PRIMARY KEY, owner text NOT NULL, name text);
CREATE TABLE budget(bid uuid PRIMARY KEY, owner text NOT NULL,
                    couple_id uuid REFERENCES couples(id), amount real);
"""


def write_schema(workdir, name, schema):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        json.dump(schema, f)
    return path


def serve(binary, store, schema, workdir):
    """Starts serve; returns (process or None if it exited, its output)."""
    out = open(os.path.join(workdir, "serve-%s.out" % uuid.uuid4().hex), "w+")
    proc = subprocess.Popen([binary, "serve", "--store", store, "--listen",
                             "127.0.0.1:0", "--schema", schema],
                            stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline:
        out.seek(0)
        text = out.read()
        if "http://" in text:
            return proc, text
        if proc.poll() is not None:
            out.seek(0)
            return None, out.read()
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    return None, text


def stop(proc):
    proc.terminate()
    proc.wait(timeout=30)


def psql(conninfo, text):
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v",
                        "ON_ERROR_STOP=1", conninfo], input=text,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        sys.exit("psql failed: " + r.stderr)
    return r.stdout.strip()


def sqlite_cases(binary, workdir):
    store = "sqlite:" + os.path.join(workdir, "server.db")
    with_account = write_schema(workdir, "account.json", SCHEMA)
    proc, text = serve(binary, store, with_account, workdir)
    check(proc is None, "sqlite: serve refuses a schema with \"account\"")
    check("needs --store postgres:" in text and text.count("\n") == 1,
          "sqlite: one clear line: " + text.strip())
    plain = json.loads(json.dumps(SCHEMA))
    for m in plain["collections"].values():
        m.pop("account")
    without = write_schema(workdir, "plain.json", plain)
    proc, text = serve(binary, store, without, workdir)
    check(proc is not None, "sqlite: serve starts without \"account\"")
    check("warning: collection \"budget\" maps table \"budget\" without an "
          "\"account\" column" in text, "sqlite: and says so on stderr")
    if proc is not None:
        stop(proc)


def postgres_cases(binary, workdir, conninfo):
    tag = "%d_%s" % (os.getpid(), uuid.uuid4().hex[:6])
    app, sync = "serve_app_" + tag, "serve_sync_" + tag
    scoped = "%s options='-csearch_path=%s'" % (conninfo, app)
    store = "postgres:%s schema=%s" % (scoped, sync)
    schema = write_schema(workdir, "pg.json", SCHEMA)
    psql(conninfo, 'CREATE SCHEMA "%s"' % app)
    try:
        psql(scoped, TABLES.split(";")[0])  # couples only
        proc, text = serve(binary, store, schema, workdir)
        check(proc is None, "postgres: serve refuses a missing table")
        check("table \"budget\" does not exist" in text,
              "postgres: one clear line: " + text.strip())
        check(psql(conninfo, "SELECT count(*) FROM pg_namespace WHERE "
                   "nspname = '%s'" % sync) == "0",
              "postgres: nothing was created")
        psql(scoped, TABLES.split(";")[1])
        proc, text = serve(binary, store, schema, workdir)
        check(proc is not None, "postgres: serve starts on the tables")
        check("warning" not in text, "postgres: no warning: " + text.strip())
        if proc is not None:
            stop(proc)
        check(psql(scoped, "SELECT count(*) FROM pg_trigger WHERE "
                   "tgname = 'syncstack_%s'" % sync) == "2",
              "postgres: a capture trigger on each table")
    finally:
        psql(conninfo, 'DROP SCHEMA IF EXISTS "%s" CASCADE; DROP SCHEMA IF '
             'EXISTS "%s" CASCADE' % (app, sync))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="serve-mapped-") as workdir:
        sqlite_cases(binary, workdir)
        conninfo = os.environ.get("SYNCSTACK_PG_CONNINFO", "")
        if conninfo:
            postgres_cases(binary, workdir, conninfo)
        elif os.environ.get("CI") == "true":
            check(False, "SYNCSTACK_PG_CONNINFO is unset: run through "
                  "scripts/with-postgres.sh (CI=true)")
        else:
            print("(no PostgreSQL: its cases skipped; run through "
                  "scripts/with-postgres.sh)")
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
