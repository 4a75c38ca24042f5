#!/usr/bin/env python3
"""The seed's wedding planner, end to end, with the real `syncstack` binary.

Two devices, a phone and a laptop, keep the planner's data in their own
SQLite tables (device.sql) and edit them with plain SQL while offline;
`syncstack sync --schema schema.json` syncs those tables through a server.
The server keeps the planner's records in its own PostgreSQL tables
(server.sql; "account": "owner" in schema.json), where its other code
reads and writes them with plain SQL: a to-do the server's code inserts
reaches the phone. The story prints what happens and checks that both
devices and the server end with the same rows and their foreign keys
intact.

usage: story.py <path to syncstack> [sqlite]

The server: PostgreSQL when SYNCSTACK_PG_CONNINFO is set
(scripts/with-postgres.sh sets it; under CI=true it must be), its tables
created in a schema of their own; with "sqlite", a SQLite file, the records
in syncstack's own store (schema.json without "account").
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
# The subprocess kit every test and example starts serve with.
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "kits"))
from serve_process import ServeProcess  # noqa: E402

SCHEMA = os.path.join(HERE, "schema.json")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def new_id():
    return str(uuid.uuid4())


class Device:
    def __init__(self, workdir, name, binary, url):
        self.name, self.binary, self.url = name, binary, url
        self.path = os.path.join(workdir, name + ".db")
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA foreign_keys = ON")

    def sql(self, text, *args):
        """Plain SQL, as the app runs it (no syncstack call)."""
        return self.db.execute(text, args).fetchall()

    def sync(self):
        r = subprocess.run(
            [self.binary, "sync", "--store", "sqlite:" + self.path,
             "--schema", SCHEMA, "--remote", self.url, "--user", "anna",
             "--password", "anna-pw", "--device", self.name],
            capture_output=True, text=True, timeout=120)
        for line in (r.stdout + r.stderr).strip().splitlines():
            print("    " + line)
        check(r.returncode == 0, "%s syncs" % self.name)

    def tables(self):
        out = {}
        for table, key in [("couples", "id"), ("budget", "bid"),
                           ("invitation_categories", "icid"),
                           ("invitations", "iid"), ("wishlist", "gid"),
                           ("gift_list", "id"), ("todo", "id")]:
            out[table] = self.sql("SELECT * FROM %s ORDER BY %s" % (table, key))
        return out

    def show(self):
        print("  %s:" % self.name)
        for table, rows in self.tables().items():
            print("    %-22s %d row%s%s" % (
                table, len(rows), "" if len(rows) == 1 else "s",
                "" if not rows else ": " + "; ".join(
                    ", ".join(str(v) for v in row[1:]) for row in rows[:4])
                + (" ..." if len(rows) > 4 else "")))


class PgServer:
    """The server's tables in PostgreSQL, and its "other code": psql."""

    def __init__(self, conninfo):
        tag = "%d_%s" % (os.getpid(), uuid.uuid4().hex[:6])
        self.base, self.app = conninfo, "wedding_app_" + tag
        self.conninfo = "%s options='-csearch_path=%s'" % (conninfo, self.app)
        self.store = "postgres:%s schema=wedding_sync_%s" % (self.conninfo, tag)
        self.psql(self.base, 'CREATE SCHEMA "%s"' % self.app)
        self.psql(self.conninfo,
                  open(os.path.join(HERE, "server.sql")).read())

    def psql(self, conninfo, text):
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v",
                            "ON_ERROR_STOP=1", conninfo],
                           input=text, capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            sys.exit("psql failed: " + r.stderr)
        return [line.split("|") for line in r.stdout.splitlines() if line]

    def sql(self, text):
        """Plain SQL on the server's tables, as its other code runs it."""
        return self.psql(self.conninfo, text)

    def drop(self):
        self.psql(self.base, 'DROP SCHEMA IF EXISTS "%s" CASCADE; '
                  'DROP SCHEMA IF EXISTS "%s" CASCADE'
                  % (self.app, self.store.split("schema=")[-1]))


def server_store(workdir):
    """(store URI, schema file, PgServer or None)."""
    conninfo = os.environ.get("SYNCSTACK_PG_CONNINFO", "")
    if len(sys.argv) > 2 and sys.argv[2] == "sqlite":
        conninfo = ""
    elif not conninfo:
        if os.environ.get("CI") == "true":
            print("FAIL SYNCSTACK_PG_CONNINFO is unset: run through "
                  "scripts/with-postgres.sh (CI=true)")
            sys.exit(1)
        print("(no PostgreSQL: the server keeps its data in a SQLite file; "
              "run through scripts/with-postgres.sh for PostgreSQL)")
    if conninfo:
        pg = PgServer(conninfo)
        return pg.store, SCHEMA, pg
    # syncstack's own store keeps the records: the schema without "account".
    schema = json.load(open(SCHEMA))
    for mapping in schema["collections"].values():
        mapping.pop("account", None)
    path = os.path.join(workdir, "schema-sqlite-server.json")
    with open(path, "w") as f:
        json.dump(schema, f)
    return "sqlite:" + os.path.join(workdir, "server.db"), path, None


def start_server(binary, store, schema):
    r = subprocess.run([binary, "user", "add", "--store", store, "--user",
                        "anna", "--password", "anna-pw"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "the server has a user anna " + r.stderr.strip())
    try:
        server = ServeProcess(binary, "--store", store, "--listen",
                              "127.0.0.1:0", "--schema", schema)
    except RuntimeError as e:
        sys.exit("serve did not start: %s" % e)
    return server, server.url


def story(binary, workdir):
    store, schema, pg = server_store(workdir)
    if pg is not None:
        print("The server's own PostgreSQL tables (server.sql) hold the "
              "planner; its code writes them with plain SQL.")
    server, url = start_server(binary, store, schema)
    print("server at %s, store %s" % (url, store.split(" ")[0][:40]))
    try:
        story_steps(binary, workdir, url, pg)
    finally:
        server.stop(timeout=30)
        if pg is not None:
            pg.drop()


def story_steps(binary, workdir, url, pg):
    phone = Device(workdir, "phone", binary, url)
    laptop = Device(workdir, "laptop", binary, url)
    schema_sql = open(os.path.join(HERE, "device.sql")).read()
    for d in (phone, laptop):
        d.db.executescript(schema_sql)

    print("\n1. The laptop's app already has a gift list before syncstack.")
    laptop.sql("INSERT INTO gift_list VALUES(?, 'toaster', 'aunt May')",
               new_id())

    print("2. Offline, the phone plans: a couple, budget lines, guests.")
    couple, family, work = new_id(), new_id(), new_id()
    phone.sql("INSERT INTO couples VALUES(?, 'Anna & Ben', '2027-06-12')",
              couple)
    flowers = new_id()
    phone.sql("INSERT INTO budget VALUES(?, ?, 'flowers', 450.0, 0)",
              flowers, couple)
    phone.sql("INSERT INTO budget VALUES(?, ?, 'venue', 3200.0, 0)",
              new_id(), couple)
    phone.sql("INSERT INTO invitation_categories VALUES(?, 'family')",
              family)
    phone.sql("INSERT INTO invitation_categories VALUES(?, 'colleagues')",
              work)
    for guest, cat in [("grandma", family), ("uncle Tom", family),
                       ("Sam from work", work), ("Kim from work", work)]:
        phone.sql("INSERT INTO invitations VALUES(?, ?, ?, 1)", new_id(),
                  cat, guest)
    todo = new_id()
    phone.sql("INSERT INTO todo VALUES(?, 'book the band', 0)", todo)

    print("3. Both sync.")
    phone.sync()
    laptop.sync()
    phone.sync()
    check(phone.tables() == laptop.tables(),
          "the phone and the laptop hold the same rows")
    check(len(phone.sql("SELECT * FROM gift_list")) == 1,
          "the laptop's earlier gift reached the phone")

    server_todo = new_id()
    if pg is not None:
        print("   The server's tables now hold the planner:")
        for title, amount, paid in pg.sql(
                "SELECT title, amount, paid FROM budget "
                "WHERE owner = 'anna' ORDER BY title"):
            print("     budget: %s %s paid=%s" % (title, amount, paid))
        total = pg.sql("SELECT sum(amount) FROM budget "
                       "WHERE owner = 'anna'")[0][0]
        print("   The server's report: anna's budget totals %s" % total)
        check(float(total) == 3650.0,
              "the server's own report sums the budget rows")
        print("   The server's code adds a to-do by plain SQL:")
        print("     INSERT INTO todo VALUES('%s', 'anna', "
              "'send the invitations', false)" % server_todo)
        pg.sql("INSERT INTO todo VALUES('%s', 'anna', "
               "'send the invitations', false)" % server_todo)

    print("4. Offline again: both edit, the phone drops the colleagues.")
    laptop.sql("UPDATE budget SET paid = 1 WHERE bid = ?", flowers)
    laptop.sql("INSERT INTO wishlist VALUES(?, 'espresso machine', 240)",
               new_id())
    phone.sql("UPDATE todo SET done = 1 WHERE id = ?", todo)
    phone.sql("INSERT INTO invitations VALUES(?, ?, 'cousin Lea', 2)",
              new_id(), family)
    phone.db.executescript(
        "BEGIN; DELETE FROM invitations WHERE icid = '%s';"
        "DELETE FROM invitation_categories WHERE icid = '%s'; COMMIT;"
        % (work, work))

    print("5. Both sync.")
    laptop.sync()
    phone.sync()
    laptop.sync()

    print("\nWhat each device holds now:")
    phone.show()
    laptop.show()
    check(phone.tables() == laptop.tables(),
          "the phone and the laptop hold the same rows")
    check(laptop.sql("SELECT paid FROM budget WHERE bid = ?", flowers)
          == [(1,)], "the laptop's 'paid' reached the phone")
    check(laptop.sql("SELECT done FROM todo WHERE id = ?", todo)
          == [(1,)], "the phone's done todo reached the laptop")
    if pg is not None:
        check(phone.sql("SELECT title FROM todo WHERE id = ?",
                        server_todo) == [("send the invitations",)],
              "the to-do the server's code inserted reached the phone")
        rows = pg.sql("SELECT (SELECT count(*) FROM invitations), "
                      "(SELECT count(*) FROM invitation_categories), "
                      "(SELECT paid FROM budget WHERE bid = '%s'), "
                      "(SELECT done FROM todo WHERE id = '%s')"
                      % (flowers, todo))
        print("   The server's tables: %s invitations, %s categories, "
              "flowers paid=%s, band booked=%s" % tuple(rows[0]))
        check(rows[0] == ["3", "1", "t", "t"],
              "the server's tables hold what the devices did")
    check(len(laptop.sql("SELECT * FROM invitations")) == 3,
          "the laptop has the three family invitations, no colleague")
    for d in (phone, laptop):
        check(d.sql("PRAGMA foreign_key_check") == [],
              "%s: every foreign key holds" % d.name)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="wedding-planner-") as workdir:
        story(binary, workdir)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("the story ran as told")
    return 0


if __name__ == "__main__":
    sys.exit(main())
