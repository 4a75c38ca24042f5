"""What the Python end-to-end scripts share: named checks that are counted
(thread-safe) and end the script with its verdict, one HTTP call to a
server on 127.0.0.1, one run of the syncstack binary, and the lookup of a
PostgreSQL client tool.

    checks = Checks()
    status, body, _ = call(serve.port, "POST", "/v1/login", {...})
    checks.check(status == 200, "login")
    sys.exit(checks.verdict())
"""

import glob
import http.client
import json
import shutil
import subprocess
import threading


class Checks:
    def __init__(self):
        self.failures = []
        self._lock = threading.Lock()

    def check(self, cond, what):
        """Prints "ok" or "FAIL" and `what`; a failure is remembered."""
        with self._lock:
            print(("ok   " if cond else "FAIL ") + what, flush=True)
            if not cond:
                self.failures.append(what)

    def verdict(self):
        """Prints the verdict; returns the script's exit code (1 on any
        failure)."""
        if self.failures:
            print("%d check(s) failed" % len(self.failures))
            return 1
        print("all checks passed")
        return 0


def call(port, method, path, body=None, token=None, lease=None, raw=None,
         idem=None, timeout=10):
    """One request to 127.0.0.1:port. `body` goes as JSON, or `raw` as bytes;
    token, lease and idem set the bearer token, X-Sync-Lease and
    Idempotency-Key. Returns (status, the answer's JSON or None, the
    response)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {}
    if token:
        headers["Authorization"] = "Bearer " + token
    if lease:
        headers["X-Sync-Lease"] = lease
    if idem:
        headers["Idempotency-Key"] = idem
    data = raw if raw is not None else (
        json.dumps(body).encode() if body is not None else None)
    if data is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    parsed = json.loads(payload) if payload else None
    return resp.status, parsed, resp


def run(binary, *args, timeout=120):
    """Runs `<binary> <args...>` to its end; returns the CompletedProcess
    with stdout and stderr captured as text. Raises TimeoutExpired after
    `timeout` seconds."""
    return subprocess.run([binary, *args], capture_output=True, text=True,
                          timeout=timeout)


def pg_tool(name):
    """The path of the PostgreSQL client tool `name` (pg_dump, psql...): on
    PATH, else the newest /usr/lib/postgresql/*/bin one; None when absent."""
    found = shutil.which(name)
    if found:
        return found
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name))
    return found[-1] if found else None
