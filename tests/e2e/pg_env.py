"""The PostgreSQL server of the end-to-end tests: SYNCSTACK_PG_CONNINFO, set
by scripts/with-postgres.sh. Each test run uses fresh schemas (the store URI's
`schema=` key), dropped at the end with psql when it is installed.

Without a server a test exits 77 (ctest: skipped), except under CI=true,
where it fails: CI never skips the PostgreSQL tests silently.
"""
import glob
import os
import shutil
import subprocess
import sys
import uuid

SKIP = 77
_schemas = []


def conninfo_or_skip():
    conninfo = os.environ.get("SYNCSTACK_PG_CONNINFO", "")
    if conninfo:
        return conninfo
    if os.environ.get("CI") == "true":
        print("FAIL SYNCSTACK_PG_CONNINFO is unset: run the tests through "
              "scripts/with-postgres.sh (CI=true: not skipping)", flush=True)
        sys.exit(1)
    print("skip: SYNCSTACK_PG_CONNINFO is unset: run the tests through "
          "scripts/with-postgres.sh to include PostgreSQL", flush=True)
    sys.exit(SKIP)


def new_schema(prefix):
    name = "syncstack_e2e_%s_%d_%s" % (prefix, os.getpid(), uuid.uuid4().hex[:8])
    _schemas.append(name)
    return name


def store_uri(schema):
    return "postgres:" + conninfo_or_skip() + " schema=" + schema


def _psql():
    found = shutil.which("psql")
    if found:
        return found
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return found[-1] if found else None


def drop_schemas():
    psql, conninfo = _psql(), os.environ.get("SYNCSTACK_PG_CONNINFO", "")
    if not _schemas or not psql or not conninfo:
        return
    sql = "".join('DROP SCHEMA IF EXISTS "%s" CASCADE;' % s for s in _schemas)
    subprocess.run([psql, "-q", "-d", conninfo, "-c", sql],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    del _schemas[:]
