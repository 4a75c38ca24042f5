"""A device's local store driven through the syncstack command line, for the
Python end-to-end scripts: `put` one record and `ls` a collection, each
counted as a named check ("<name>: put ...", "<name>: ls ...").

    put_record(SYNCSTACK, check, store, "phone", rid, {"title": "x"})
    held = list_records(SYNCSTACK, check, store, "phone")
"""
import json

from e2e_checks import run


def put_record(binary, check, store, name, rid, fields, collection="notes"):
    """`<binary> put` of `fields` (JSON) as record `rid` into `store`;
    `check` gets whether it exited 0, labelled with `name`."""
    r = run(binary, "put", "--store", store, "--collection", collection,
            "--id", rid, "--json", json.dumps(fields))
    check(r.returncode == 0, "%s: put %s" % (name, r.stderr.strip()))


def list_records(binary, check, store, name, collection="notes"):
    """`<binary> ls --json` of `collection` in `store`; `check` gets whether
    it exited 0. Returns {id: the record's fields without last_update and
    the `_` ones}."""
    r = run(binary, "ls", "--store", store, "--collection", collection,
            "--json")
    check(r.returncode == 0, "%s: ls %s" % (name, r.stderr.strip()))
    out = {}
    for line in r.stdout.splitlines():
        row = json.loads(line)
        out[row["id"]] = {k: v for k, v in row.items()
                          if not k.startswith("_") and k != "last_update"}
    return out
