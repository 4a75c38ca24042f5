#!/usr/bin/env python3
"""Several `syncstack serve` processes on one PostgreSQL, under load
(issue 15 item 7; run through bench/multiprocess/run.sh).

For each process count P (default 1, 2, 4) it starts P `serve` processes on
one PostgreSQL schema and drives A accounts (default 1,000), each with one
device that syncs a small change in a loop for S seconds (default 20): take
the lock, push one updated record with synchronise.json, release the lock.
Each sync goes to the next process in turn (round-robin: the client picks a
process per sync, as a load balancer would). Devices keep their token
(tokens made by one process are good on every process of the database),
so the figures measure sync sessions, not logins.

Reported per P: syncs/s, p50/p99 latency of a whole sync session (lock to
release), errors (any answer other than 2xx, or a socket error: must be 0),
and the PostgreSQL connections the serve processes held (pg_stat_activity,
sampled every 0.5 s: the largest count seen, not counting this driver's
own sampling connection).

Setup, not measured: one user is added with `syncstack user add`; the other
accounts get a copy of its password hash through SQL (the same password,
so setup does not run 1,000 Argon2 hashes). That user logs in for real,
which makes the database's token key; the other devices' tokens are made
here with that key, exactly as the server signs them ("s2.<hex
account>.<generation>.<expiry>.<HMAC-SHA-512/256>", framework/src/users.cc),
because 1,000 Argon2 logins take minutes on a loaded 2-core machine; one
minted token is checked against a server before the run.

usage: multiprocess_bench.py --syncstack PATH [--processes 1,2,4]
         [--accounts 1000] [--seconds 20] [--clients 2] [--json FILE]
needs SYNCSTACK_PG_CONNINFO (scripts/with-postgres.sh sets it) and psql.
"""
import argparse
import asyncio
import glob
import hashlib
import hmac
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "kits"))
from serve_process import ServeProcess  # noqa: E402

PASSWORD = "bench-password-1"


def psql_path():
    found = shutil.which("psql")
    if found:
        return found
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    if not found:
        sys.exit("multiprocess_bench: psql not found")
    return found[-1]


def psql(conninfo, sql):
    r = subprocess.run([psql_path(), "-At", "-v", "ON_ERROR_STOP=1", "-d",
                        conninfo, "-c", sql], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("multiprocess_bench: psql failed: " + r.stderr)
    return r.stdout.strip()


def user_name(i):
    return "u%05d" % i


def setup_users(syncstack, store, conninfo, schema, accounts):
    r = subprocess.run([syncstack, "user", "add", "--store", store, "--user",
                        user_name(0), "--password", PASSWORD],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("multiprocess_bench: user add failed: " + r.stderr)
    psql(conninfo,
         "INSERT INTO \"%s\".meta(account, key, value) "
         "SELECT '_users', 'user/u' || lpad(n::text, 5, '0'), m.value "
         "FROM generate_series(1, %d) AS n, \"%s\".meta AS m "
         "WHERE m.account = '_users' AND m.key = 'user/%s'"
         % (schema, accounts - 1, schema, user_name(0)))


def start_serve(syncstack, store):
    """One `syncstack serve` child on a free port (tests/kits)."""
    try:
        return ServeProcess(syncstack, "--store", store, "--listen",
                            "127.0.0.1:0", start_timeout=60)
    except RuntimeError as e:
        sys.exit("multiprocess_bench: serve did not start: %s" % e)


# ---------------------------------------------------------------------------
# The client side: asyncio, raw HTTP/1.1 with keep-alive connections pooled
# per server process.

class Connection:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    async def send(self, method, path, token, body=None, lease=None):
        head = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1",
                "Authorization: Bearer " + token]
        if lease:
            head.append("X-Sync-Lease: " + lease)
        data = b""
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            head.append("Content-Type: application/json")
        head.append("Content-Length: %d" % len(data))
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed by the server")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload, close


class Pool:
    """Keep-alive connections to one process. A connection idle for
    longer than kMaxIdle is closed rather than reused: serve closes
    keep-alive connections idle for 10 s (HttpServerOptions), and a client
    must not send on one it may be closing."""
    kMaxIdle = 5.0

    def __init__(self, port):
        self.port = port
        self.idle = []  # (connection, idle since)

    async def take(self):
        while self.idle:
            conn, since = self.idle.pop()
            if time.monotonic() - since < self.kMaxIdle \
                    and not conn.reader.at_eof():
                return conn
            conn.writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        return Connection(reader, writer)

    def give(self, conn, reusable):
        if reusable:
            self.idle.append((conn, time.monotonic()))
        else:
            conn.writer.close()


async def login(pool, name):
    conn = await pool.take()
    body = json.dumps({"user": name, "password": PASSWORD}).encode()
    conn.writer.write(("POST /v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n" % len(body)).encode()
                      + body)
    status_line = await conn.reader.readline()
    length = 0
    while True:
        line = await conn.reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    payload = await conn.reader.readexactly(length)
    pool.give(conn, True)
    if int(status_line.split()[1]) != 200:
        raise RuntimeError("login of %s: %s" % (name, payload[:200]))
    return json.loads(payload)["token"]


def now_text():
    t = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + \
        ".%03d" % int((t % 1) * 1000)


async def device_loop(index, token, pools, turn, deadline, out):
    ids = [str(uuid.UUID(int=(index << 32) | k)) for k in range(10)]
    n = 0
    while time.monotonic() < deadline:
        pool = pools[turn[0] % len(pools)]
        turn[0] += 1
        n += 1
        start = time.monotonic()
        conn = None
        try:
            conn = await pool.take()
            status, payload, close = await conn.send(
                "POST", "/v1/lock", token, {"device": "bench-%d" % index})
            if status != 200:
                raise RuntimeError("lock %d %s" % (status, payload[:120]))
            lease = json.loads(payload)["lease"]
            record = {"id": ids[n % len(ids)], "n": n, "by": "bench",
                      "last_update": now_text()}
            status, payload, close = await conn.send(
                "POST", "/v1/synchronise.json", token,
                {"update": {"todo": [record]}}, lease)
            if status != 200:
                raise RuntimeError("synchronise %d %s"
                                   % (status, payload[:120]))
            status, payload, close = await conn.send(
                "DELETE", "/v1/lock", token, None, lease)
            if status != 204:
                raise RuntimeError("unlock %d %s" % (status, payload[:120]))
            pool.give(conn, not close)
            out["latencies"].append(time.monotonic() - start)
        except Exception as e:  # every failure is counted and shown
            out["errors"] += 1
            if len(out["error_samples"]) < 5:
                out["error_samples"].append(repr(e)[:200])
            if conn is not None:
                pool.give(conn, False)


async def client_main(ports, tokens, first_index, seconds, start_at):
    pools = [Pool(p) for p in ports]
    turn = [first_index]  # processes in turn, each client from its own start
    out = {"latencies": [], "errors": 0, "error_samples": []}
    await asyncio.sleep(max(0.0, start_at - time.time()))
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(device_loop(first_index + i, tok, pools, turn,
                                       deadline, out)
                           for i, tok in enumerate(tokens)))
    return out


def client_process(ports, tokens, first_index, seconds, start_at, queue):
    queue.put(asyncio.run(client_main(ports, tokens, first_index, seconds,
                                      start_at)))


async def login_all(ports, accounts):
    """Logs every account in, two at a time (a serve process runs two
    password checks at once; a busy one answers 503, retried here)."""
    pools = [Pool(p) for p in ports]
    sem = asyncio.Semaphore(2)

    async def one(i):
        async with sem:
            for attempt in range(20):
                try:
                    return await login(pools[i % len(pools)], user_name(i))
                except RuntimeError as e:
                    if "unavailable" not in str(e) or attempt == 19:
                        raise
                    await asyncio.sleep(0.5)
    return await asyncio.gather(*(one(i) for i in range(accounts)))


def token_key(conninfo, schema):
    """The database's token key (made by the first login)."""
    text = psql(conninfo,
                "SELECT convert_from(payload, 'UTF8') FROM \"%s\".records "
                "WHERE account = '_users' AND collection = 'token_keys'"
                % schema)
    return bytes.fromhex(json.loads(text)["key"])


def mint_token(key, account, expires_at_ms):
    body = "s2.%s.0.%d" % (account.encode().hex(), expires_at_ms)
    mac = hmac.new(key, body.encode(), hashlib.sha512).digest()[:32]
    return body + "." + mac.hex()


def make_tokens(syncstack, store, conninfo, schema, accounts):
    """A real login of the first account, then minted tokens (see the
    module's comment), one of them checked by a server."""
    server = start_serve(syncstack, store)
    try:
        first = asyncio.run(login_all([server.port], 1))[0]
        key = token_key(conninfo, schema)
        expires = int(time.time() * 1000) + 3 * 3600 * 1000
        tokens = [first] + [mint_token(key, user_name(i), expires)
                            for i in range(1, accounts)]

        async def probe(token):
            conn = await Pool(server.port).take()
            return await conn.send("GET", "/v1/fetch.json", token)
        if accounts > 1:
            status, payload, _ = asyncio.run(probe(tokens[-1]))
            if status != 200:
                sys.exit("multiprocess_bench: a minted token was refused: %d %s"
                         % (status, payload[:200]))
        return tokens
    finally:
        server.stop()


def sample_connections(conninfo, stop, seen):
    """The largest number of other backends on the database, every 0.5 s."""
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = "
           "current_database() AND pid <> pg_backend_pid() "
           "AND backend_type = 'client backend'")
    while True:
        r = subprocess.run([psql_path(), "-At", "-d", conninfo, "-c", sql],
                           capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip().isdigit():
            seen.append(int(r.stdout.strip()))
        if stop.wait(0.5):
            return


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, int(round(p / 100.0 *
                                              (len(sorted_values) - 1))))
    return sorted_values[k]


def commits(conninfo):
    """Transactions committed in the database so far (pg_stat_database)."""
    return int(psql(conninfo, "SELECT xact_commit FROM pg_stat_database "
                              "WHERE datname = current_database()"))


def run_one(args, conninfo, processes, tokens, schema):
    store = "postgres:%s schema=%s" % (conninfo, schema)
    servers = [start_serve(args.syncstack, store) for _ in range(processes)]
    commits_before = commits(conninfo)
    try:
        ports = [s.port for s in servers]
        stop, seen = threading.Event(), []
        sampler = threading.Thread(target=sample_connections,
                                   args=(conninfo, stop, seen))
        sampler.start()
        queue = multiprocessing.Queue()
        per = (len(tokens) + args.clients - 1) // args.clients
        start_at = time.time() + 1.0
        children = []
        for c in range(args.clients):
            part = tokens[c * per:(c + 1) * per]
            if not part:
                continue
            p = multiprocessing.Process(
                target=client_process,
                args=(ports, part, c * per, args.seconds, start_at, queue))
            p.start()
            children.append(p)
        results = [queue.get() for _ in children]
        for p in children:
            p.join()
        stop.set()
        sampler.join()
        # The pools keep their connections open: count them once more.
        sample_connections(conninfo, stop, seen)
    finally:
        for s in servers:
            s.stop()
    # The sampler's own queries count too (one a 0.5 s), a few per run.
    committed = commits(conninfo) - commits_before
    latencies = sorted(x for r in results for x in r["latencies"])
    errors = sum(r["errors"] for r in results)
    samples = [s for r in results for s in r["error_samples"]]
    return {
        "processes": processes,
        "accounts": len(tokens),
        "seconds": args.seconds,
        "syncs": len(latencies),
        "syncs_per_s": len(latencies) / float(args.seconds),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "errors": errors,
        "error_samples": samples,
        "pg_connections_max": max(seen) if seen else -1,
        "pg_commits_per_sync": committed / max(1, len(latencies)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--syncstack", required=True)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=2,
                        help="driver processes sharing the devices")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    conninfo = os.environ.get("SYNCSTACK_PG_CONNINFO")
    if not conninfo:
        sys.exit("multiprocess_bench: SYNCSTACK_PG_CONNINFO is unset "
                 "(run through scripts/with-postgres.sh)")
    schema = "bench_mp_%d" % os.getpid()
    store = "postgres:%s schema=%s" % (conninfo, schema)
    rows = []
    try:
        setup_users(args.syncstack, store, conninfo, schema, args.accounts)
        t0 = time.monotonic()
        tokens = make_tokens(args.syncstack, store, conninfo, schema,
                             args.accounts)
        print("setup: %d accounts with tokens in %.1f s (not measured)"
              % (args.accounts, time.monotonic() - t0), flush=True)
        for processes in [int(p) for p in args.processes.split(",")]:
            row = run_one(args, conninfo, processes, tokens, schema)
            rows.append(row)
            print("processes=%d syncs/s=%.0f p50=%.1fms p99=%.1fms errors=%d "
                  "pg_connections=%d commits/sync=%.1f%s" % (
                      processes, row["syncs_per_s"], row["p50_ms"],
                      row["p99_ms"], row["errors"],
                      row["pg_connections_max"], row["pg_commits_per_sync"],
                      (" first errors: %s" % row["error_samples"])
                      if row["errors"] else ""), flush=True)
    finally:
        psql(conninfo, "DROP SCHEMA IF EXISTS \"%s\" CASCADE" % schema)
    print()
    print("| serve processes | syncs/s | p50 (ms) | p99 (ms) | errors | "
          "PostgreSQL connections (max) | commits per sync |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| %d | %.0f | %.1f | %.1f | %d | %d | %.1f |" % (
            r["processes"], r["syncs_per_s"], r["p50_ms"], r["p99_ms"],
            r["errors"], r["pg_connections_max"], r["pg_commits_per_sync"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    sys.exit(1 if any(r["errors"] for r in rows) else 0)


if __name__ == "__main__":
    main()
