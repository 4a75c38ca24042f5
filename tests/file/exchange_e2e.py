#!/usr/bin/env python3
"""Issue 14 item 9 with the real binary: a poisoned exchange folder (a
request whose answer name is a folder) does not stop `syncstack serve`.

The request is moved to rejected/ with a reason file, the server keeps
answering HTTP on 127.0.0.1 and the exchange folder's other requests, and
does so again after a restart with another poisoned request waiting.

usage: exchange_e2e.py <path to syncstack>
Exit status 0 when every check passed.
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kits"))
from e2e_checks import Checks, call, run  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

SYNCSTACK = sys.argv[1]
checks = Checks()
check = checks.check


def request_file(path, body):
    data = json.dumps(body).encode()
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nContent-Length: " +
            str(len(data)).encode() + b"\r\n\r\n" + data)


def wait_for(cond, seconds=15):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def poison(exchange, client):
    """A login request whose answer name is taken by a folder."""
    base = client + "." + "0123456789abcdef" * 2
    os.makedirs(os.path.join(exchange, "answers", base + ".ans"),
                exist_ok=True)
    with open(os.path.join(exchange, "requests", base + ".req"), "wb") as f:
        f.write(request_file("/v1/login",
                             {"user": "mark", "password": "mark-pw"}))
    return base


def good_request(exchange, client):
    base = client + "." + "fedcba9876543210" * 2
    with open(os.path.join(exchange, "requests", base + ".req"), "wb") as f:
        f.write(request_file("/v1/login",
                             {"user": "mark", "password": "mark-pw"}))
    return os.path.join(exchange, "answers", base + ".ans")


def reasons(exchange):
    rejected = os.path.join(exchange, "rejected")
    return sorted(n for n in os.listdir(rejected) if n.endswith(".reason"))


def run_once(store, exchange, client, expected_reasons):
    server = ServeProcess(SYNCSTACK, "--store", store, "--listen",
                          "127.0.0.1:0", "--exchange", exchange,
                          "--exchange-poll-ms", "50")
    try:
        base = poison(exchange, client)
        check(wait_for(lambda: len(reasons(exchange)) == expected_reasons),
              client + ": the poisoned request moved to rejected/ with a "
              "reason file")
        texts = [open(os.path.join(exchange, "rejected", n)).read()
                 for n in reasons(exchange)]
        check(any(base + ".req" in t and "not a file" in t for t in texts),
              client + ": the reason names the file and why")
        check(not os.path.exists(os.path.join(exchange, "requests",
                                               base + ".req")),
              client + ": requests/ no longer holds it")
        check(server.proc.poll() is None, client + ": serve is still running")
        status, body, _ = call(server.port, "POST", "/v1/login",
                               {"user": "mark", "password": "mark-pw"})
        check(status == 200 and body is not None and "token" in body,
              client + ": HTTP still answers (login 200)")
        answer = good_request(exchange, client + "-ok")
        check(wait_for(lambda: os.path.exists(answer)),
              client + ": the exchange folder answers the next request")
        check(os.path.exists(answer) and
              open(answer, "rb").read().startswith(b"HTTP/1.1 200"),
              client + ": ... with a 200")
    finally:
        code = server.stop()
    check(code == 0, client + ": serve stops cleanly on SIGTERM")


def main():
    with tempfile.TemporaryDirectory() as work:
        store = "sqlite:" + os.path.join(work, "server.db")
        exchange = os.path.join(work, "exchange")
        run(SYNCSTACK, "user", "add", "--store", store, "--user", "mark",
            "--password", "mark-pw").check_returncode()
        run_once(store, exchange, "first", 1)
        # Again after a restart, the old poison's folder still in answers/.
        run_once(store, exchange, "second", 2)
    return checks.verdict()


if __name__ == "__main__":
    sys.exit(main())
