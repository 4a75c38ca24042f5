#!/usr/bin/env python3
"""Two `syncstack serve` processes on one PostgreSQL database.

1. The sync lock is exclusive across the two processes: a device holding a
   user's lock through server 1 makes server 2 answer 423 to another device
   of that user; the lease is the database's (server 2 accepts and renews
   it); after its release server 2 grants the lock, and the old lease is
   refused (409) on server 1.
2. Several devices (real `syncstack put` / `sync` processes on their own
   SQLite stores), spread over both servers, edit and sync concurrently:
   at the end every device of a user holds exactly what the other devices
   of that user hold, and nothing written is lost.

usage: two_servers.py <path to syncstack>
Needs SYNCSTACK_PG_CONNINFO (scripts/with-postgres.sh): without it the run
is skipped (exit 77), or fails under CI=true.
"""
import os
import random
import sys
import tempfile
import threading
import uuid

import pg_env

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kits"))
from cli_store import list_records, put_record  # noqa: E402
from e2e_checks import Checks  # noqa: E402
from e2e_checks import call as http_call  # noqa: E402
from e2e_checks import run as run_binary  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

SYNCSTACK = sys.argv[1]
checks = Checks()
check = checks.check


def run(*args):
    return run_binary(SYNCSTACK, *args)


class Server:
    def __init__(self, store, name):
        self.name = name
        self.serve = ServeProcess(
            SYNCSTACK, "--store", store, "--listen", "127.0.0.1:0",
            "--lease-seconds", "10")
        self.port = self.serve.port
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        code = self.serve.stop(timeout=10)
        if code != 0:
            print(self.serve.stderr(), end="", flush=True)
        return code


def call(port, method, path, body=None, token=None, lease=None):
    status, answer, _ = http_call(port, method, path, body, token=token,
                                  lease=lease, timeout=30)
    return status, answer


def login(port, user):
    status, body = call(port, "POST", "/v1/login",
                        {"user": user, "password": user + "-pw"})
    assert status == 200, body
    return body["token"]


def lock_is_exclusive(s1, s2):
    t1, t2 = login(s1.port, "alice"), login(s2.port, "alice")
    # Stateless servers: a token either one made works on the other.
    status, _ = call(s2.port, "GET", "/v1/fetch.json", token=t1)
    check(status == 200, "server 2 accepts a token server 1 made")
    status, _ = call(s1.port, "GET", "/v1/fetch.json", token=t2)
    check(status == 200, "server 1 accepts a token server 2 made")
    status, _ = call(s1.port, "GET", "/v1/fetch.json", token=t2[:-1] + ("0" if t2[-1] != "0" else "1"))
    check(status == 401, "an altered token is refused")
    status, body = call(s1.port, "POST", "/v1/lock", {"device": "phone"},
                        token=t1)
    check(status == 200, "server 1 grants alice's lock to the phone")
    phone = body["lease"]
    status, body = call(s2.port, "POST", "/v1/lock", {"device": "laptop"},
                        token=t2)
    check(status == 423 and body.get("error") == "locked"
          and body.get("retry_after", 0) > 0,
          "server 2 answers 423 to alice's laptop while the phone holds it")
    status, body = call(s2.port, "POST", "/v1/lock", {"device": "phone"},
                        token=t2, lease=phone)
    check(status == 200 and body["lease"] == phone,
          "server 2 renews the lease server 1 granted")
    record = {"id": str(uuid.uuid4()), "by": "phone via server 2"}
    status, body = call(s2.port, "POST", "/v1/synchronise.json",
                        {"add": {"notes": [record]}}, token=t2, lease=phone)
    check(status == 200, "server 2 takes a write under server 1's lease")
    t_bob = login(s2.port, "bob")
    status, _ = call(s2.port, "POST", "/v1/lock", {"device": "laptop"},
                     token=t_bob)
    check(status == 200, "another user's lock is independent")
    status, _ = call(s1.port, "DELETE", "/v1/lock", token=t1, lease=phone)
    check(status == 204, "server 1 releases the phone's lease")
    status, body = call(s2.port, "POST", "/v1/lock", {"device": "laptop"},
                        token=t2)
    check(status == 200, "after the release server 2 grants the laptop")
    laptop = body["lease"]
    status, body = call(s1.port, "POST", "/v1/synchronise.json",
                        {"add": {"notes": [{"id": str(uuid.uuid4())}]}},
                        token=t1, lease=phone)
    check(status == 409 and body.get("error") == "lease_lost",
          "server 1 refuses a write under the released lease (409)")
    status, _ = call(s1.port, "POST", "/v1/lock", {"device": "phone"},
                     token=t1)
    check(status == 423, "server 1 now answers 423 to the phone")
    call(s2.port, "DELETE", "/v1/lock", token=t2, lease=laptop)
    status, body = call(s1.port, "GET", "/v1/fetch.json", token=t1)
    check(status == 200 and [e["id"] for e in body.get("notes", [])]
          == [record["id"]], "the write through server 2 is seen on server 1")


class Device:
    def __init__(self, workdir, user, name, server):
        self.user, self.name, self.server = user, name, server
        self.store = "sqlite:" + os.path.join(workdir, name + ".db")
        self.created = []

    def put(self, rid, fields):
        put_record(SYNCSTACK, check, self.store, self.name, rid, fields)

    def sync(self):
        r = run("sync", "--store", self.store, "--remote", self.server.url,
                "--user", self.user, "--password", self.user + "-pw",
                "--device", self.name, "--lock-wait", "90")
        check(r.returncode == 0, "%s syncs through %s %s" %
              (self.name, self.server.name, r.stderr.strip()))

    def records(self):
        return list_records(SYNCSTACK, check, self.store, self.name)


def clients_converge(workdir, s1, s2):
    users = ["carol", "dave", "erin"]
    devices = []
    for u, user in enumerate(users):
        for d in range(2):
            # A user's two devices talk to different servers.
            server = (s1, s2)[(u + d) % 2]
            devices.append(Device(workdir, user, "%s-dev%d" % (user, d),
                                  server))

    def work(device, seed):
        rng = random.Random(seed)
        for _ in range(4):
            for _ in range(3):
                rid = str(uuid.uuid4())
                device.created.append(rid)
                device.put(rid, {"by": device.name})
            if device.created:
                rid = rng.choice(device.created)
                device.put(rid, {"by": device.name, "edited": True})
            device.sync()

    threads = [threading.Thread(target=work, args=(d, i))
               for i, d in enumerate(devices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(2):  # final rounds: everyone has seen everything
        for d in devices:
            d.sync()
    for user in users:
        mine = [d for d in devices if d.user == user]
        held = [d.records() for d in mine]
        check(all(h == held[0] for h in held),
              "%s's devices on both servers converge" % user)
        created = {rid for d in mine for rid in d.created}
        check(set(held[0]) == created,
              "%s: every record written on either server is kept (%d)"
              % (user, len(created)))


def main():
    pg_env.conninfo_or_skip()
    store = pg_env.store_uri(pg_env.new_schema("two"))
    with tempfile.TemporaryDirectory() as workdir:
        for user in ("alice", "bob", "carol", "dave", "erin"):
            r = run("user", "add", "--store", store, "--user", user,
                    "--password", user + "-pw")
            check(r.returncode == 0, "user add %s %s" % (user, r.stderr))
        s1 = Server(store, "server 1")
        s2 = Server(store, "server 2")
        try:
            lock_is_exclusive(s1, s2)
            clients_converge(workdir, s1, s2)
        finally:
            check(s1.stop() == 0 and s2.stop() == 0,
                  "both servers stop cleanly")
    pg_env.drop_schemas()
    return checks.verdict()


if __name__ == "__main__":
    sys.exit(main())
