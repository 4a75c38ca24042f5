#!/usr/bin/env python3
"""A server restored from an older backup loses nothing a device holds.

Real `syncstack serve`, `put`, `rm`, `ls` and `sync` processes on 127.0.0.1
(LESSONS.md #7 and #14, issue 14 item 1):

1. Device A syncs 10 records; the server's database is backed up (SQLite:
   a copy of the file with the server stopped; PostgreSQL: pg_dump of the
   account's schema); A adds 3 records, edits 1 and deletes 1, and syncs
   (acknowledged); the server is restored from the backup (SQLite: the copy
   put back; PostgreSQL: the schema dropped and pg_restore'd).
2. In the second variant, device B syncs to the restored server and writes
   enough that the server's write sequence passes A's before A comes back.
3. A syncs: it deletes nothing, says the server's history went back, and
   pushes again what the server lost; the server logs the event. A fresh
   device C then holds exactly what A holds (plus B's records), with the
   edit and without the deleted record.

usage: restore_backup.py <path to syncstack> [sqlite | postgres]
postgres needs SYNCSTACK_PG_CONNINFO (scripts/with-postgres.sh) and
pg_dump/pg_restore: without them the run is skipped (exit 77), or fails
under CI=true.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pg_env

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kits"))
from cli_store import list_records, put_record  # noqa: E402
from e2e_checks import Checks, pg_tool  # noqa: E402
from e2e_checks import run as run_binary  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

SYNCSTACK = sys.argv[1]
STORE_KIND = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
checks = Checks()
check = checks.check


def run(*args):
    return run_binary(SYNCSTACK, *args)


def start_server(store):
    return ServeProcess(SYNCSTACK, "--store", store, "--listen", "127.0.0.1:0")


def server_log(server):
    return server.stdout() + server.stderr()


class Device:
    def __init__(self, workdir, name):
        self.name = name
        self.store = "sqlite:" + os.path.join(workdir, name + ".db")

    def put(self, rid, fields):
        put_record(SYNCSTACK, check, self.store, self.name, rid, fields)

    def remove(self, rid):
        r = run("rm", "--store", self.store, "--collection", "notes",
                "--id", rid)
        check(r.returncode == 0, "%s: rm %s" % (self.name, r.stderr.strip()))

    def sync(self, server):
        r = run("sync", "--store", self.store, "--remote", server.url,
                "--user", "alice", "--password", "alice-pw",
                "--device", self.name)
        check(r.returncode == 0,
              "%s syncs %s" % (self.name, (r.stdout + r.stderr).strip()))
        return r.stdout + r.stderr

    def records(self):
        return list_records(SYNCSTACK, check, self.store, self.name)


class SqliteBackend:
    def __init__(self, workdir):
        self.path = os.path.join(workdir, "server.db")
        self.backup_path = os.path.join(workdir, "backup.db")
        self.uri = "sqlite:" + self.path

    def backup(self):
        shutil.copyfile(self.path, self.backup_path)

    def restore(self):
        for suffix in ("-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.remove(self.path + suffix)
        shutil.copyfile(self.backup_path, self.path)


class PostgresBackend:
    def __init__(self, workdir):
        self.conninfo = pg_env.conninfo_or_skip()
        self.pg_dump, self.pg_restore = pg_tool("pg_dump"), pg_tool("pg_restore")
        self.psql = pg_tool("psql")
        if not (self.pg_dump and self.pg_restore and self.psql):
            if os.environ.get("CI") == "true":
                print("FAIL pg_dump/pg_restore/psql not found (CI=true)")
                sys.exit(1)
            print("skip: pg_dump/pg_restore/psql not found")
            sys.exit(pg_env.SKIP)
        self.schema = pg_env.new_schema("restore")
        self.uri = pg_env.store_uri(self.schema)
        self.dump = os.path.join(workdir, "backup.dump")

    def backup(self):
        subprocess.run([self.pg_dump, "-d", self.conninfo, "-Fc", "-n",
                        self.schema, "-f", self.dump], check=True)

    def restore(self):
        subprocess.run([self.psql, "-q", "-d", self.conninfo, "-c",
                        'DROP SCHEMA "%s" CASCADE' % self.schema], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([self.pg_restore, "-d", self.conninfo, self.dump],
                       check=True)


def scenario(kind, others_write_first):
    label = "%s%s" % (kind, ", other devices write first" if others_write_first
                      else "")
    print("== restore from a backup (%s)" % label, flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        backend = (SqliteBackend if kind == "sqlite" else PostgresBackend)(
            workdir)
        r = run("user", "add", "--store", backend.uri, "--user", "alice",
                "--password", "alice-pw")
        check(r.returncode == 0, "user add %s" % r.stderr.strip())
        a = Device(workdir, "phone")
        ids = [str(uuid.uuid4()) for _ in range(10)]
        for i, rid in enumerate(ids):
            a.put(rid, {"title": "note %d" % i})
        server = start_server(backend.uri)
        a.sync(server)
        check(server.stop() == 0, "the server stops cleanly")
        backend.backup()

        server = start_server(backend.uri)
        added = [str(uuid.uuid4()) for _ in range(3)]
        for i, rid in enumerate(added):
            a.put(rid, {"title": "added %d" % i})
        a.put(ids[0], {"title": "note 0, edited"})
        a.remove(ids[1])
        out = a.sync(server)
        check("3 added" in out, "the 3 new records are acknowledged: " + out)
        expected = a.records()
        check(len(expected) == 12 and ids[1] not in expected,
              "the phone holds 12 records before the restore")
        check(server.stop() == 0, "the server stops cleanly")

        backend.restore()
        server = start_server(backend.uri)
        b_ids = []
        if others_write_first:
            b = Device(workdir, "laptop")
            b.sync(server)
            for round_ in range(3):
                for i in range(3):
                    rid = str(uuid.uuid4())
                    b_ids.append(rid)
                    b.put(rid, {"title": "laptop %d.%d" % (round_, i)})
                b.sync(server)

        out = a.sync(server)
        check("deleted here" not in out,
              "the phone deletes nothing by absence: " + out)
        check("history went back" in out,
              "the phone reports that the server's history went back")
        held = a.records()
        for rid in b_ids:
            expected[rid] = {"id": rid}
        check(set(held) == set(expected),
              "the phone still holds its 12 records (+ the laptop's)")
        check(held.get(ids[0], {}).get("title") == "note 0, edited",
              "the phone keeps its acknowledged edit")
        check(ids[1] not in held, "the acknowledged delete stays deleted")

        c = Device(workdir, "tablet")
        c.sync(server)
        fresh = c.records()
        check(set(fresh) == set(expected),
              "a fresh device gets every record back from the server "
              "(%d of %d)" % (len(set(fresh) & set(expected)), len(expected)))
        check(fresh.get(ids[0], {}).get("title") == "note 0, edited",
              "the server has the edit again")
        check(ids[1] not in fresh, "the server has the delete again")
        out = a.sync(server)
        check("history went back" not in out,
              "the next sync of the phone is an ordinary one")
        check(server.stop() == 0, "the server stops cleanly")
        check("history went back" in server_log(server),
              "the server logs the event")


def main():
    for others_write_first in (False, True):
        scenario(STORE_KIND, others_write_first)
    if STORE_KIND == "postgres":
        pg_env.drop_schemas()
    return checks.verdict()


if __name__ == "__main__":
    sys.exit(main())
