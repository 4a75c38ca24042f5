#!/usr/bin/env python3
"""Issue 14 items 7 and 8 with the real binary on 127.0.0.1.

- Password guessing: after a few wrong passwords a user's logins get 429
  with Retry-After, and another user still logs in at once.
- `syncstack user add --replace` and `syncstack user remove` end the tokens
  issued before, also while `serve` is running.
- The store files `user add` and `serve` create are 0600 (SQLite database,
  -wal, -shm) and 0700/0600 (LMDB folder and files).

usage: users_e2e.py <path to syncstack>
Exit status 0 when every check passed.
"""
import os
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kits"))
from e2e_checks import Checks  # noqa: E402
from e2e_checks import call as http_call  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

SYNCSTACK = sys.argv[1]
checks = Checks()
check = checks.check


def call(port, method, path, body=None, token=None):
    return http_call(port, method, path, body, token=token, timeout=30)


def login(port, user, password):
    return call(port, "POST", "/v1/login", {"user": user, "password": password})


def user(*args):
    return subprocess.run([SYNCSTACK, "user", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def main():
    os.umask(0o022)
    with tempfile.TemporaryDirectory() as work:
        db = os.path.join(work, "server.db")
        store = "sqlite:" + db
        for name in ("mark", "eve"):
            r = user("add", "--store", store, "--user", name, "--password",
                     name + "-pw")
            check(r.returncode == 0, "user add " + name)
        check(mode(db) == 0o600, "user add makes server.db 0600 (is %o)"
              % mode(db))
        serve = ServeProcess(SYNCSTACK, "--store", store, "--listen",
                             "127.0.0.1:0")
        try:
            port = serve.port
            for suffix in ("", "-wal", "-shm"):
                path = db + suffix
                if os.path.exists(path):
                    check(mode(path) == 0o600,
                          "server.db%s is 0600 (is %o)" % (suffix, mode(path)))

            # Item 7: eve's password is guessed; mark is not slowed.
            statuses = [login(port, "eve", "guess%d" % i)[0] for i in range(5)]
            check(statuses == [401] * 5, "five wrong passwords: 401 each")
            # The wait after the fifth failure is 1 s and doubles with each
            # further one: a loaded machine may let the first pass.
            for i in range(6):
                s, body, resp = login(port, "eve", "eve-pw" if i else "x")
                if s == 429:
                    break
            retry = resp.getheader("Retry-After")
            check(s == 429 and body.get("error") == "unavailable"
                  and retry is not None and int(retry) >= 1,
                  "then 429 with Retry-After, even with the right password "
                  "(got %d, Retry-After %s)" % (s, retry))
            s, body, _ = login(port, "mark", "mark-pw")
            check(s == 200 and body.get("token"),
                  "another user logs in at once")

            # Item 8: a password change and a removal end earlier tokens.
            token = body["token"]
            s, _, _ = call(port, "GET", "/v1/fetch.json", token=token)
            check(s == 200, "the token works")
            r = user("add", "--store", store, "--user", "mark", "--password",
                     "mark-pw2", "--replace")
            check(r.returncode == 0, "user add --replace")
            s, body, _ = call(port, "GET", "/v1/fetch.json", token=token)
            check(s == 401 and body.get("error") == "unauthorized",
                  "the token from before the password change gets 401")
            s, _, _ = login(port, "mark", "mark-pw")
            check(s == 401, "the old password gets 401")
            s, body, _ = login(port, "mark", "mark-pw2")
            check(s == 200, "the new password logs in")
            token = body["token"]
            s, _, _ = call(port, "GET", "/v1/fetch.json", token=token)
            check(s == 200, "the new token works")
            r = user("remove", "--store", store, "--user", "mark")
            check(r.returncode == 0, "user remove: " + r.stdout.strip())
            s, _, _ = call(port, "GET", "/v1/fetch.json", token=token)
            check(s == 401, "the token of a removed user gets 401")
            s, _, _ = login(port, "mark", "mark-pw2")
            check(s == 401, "a removed user cannot log in")
            r = user("remove", "--store", store, "--user", "mark")
            check(r.returncode != 0, "removing a missing user fails")
        finally:
            code = serve.stop()
        check(code == 0, "serve stops cleanly")

        lmdb = os.path.join(work, "server-lmdb")
        r = user("add", "--store", "lmdb:" + lmdb, "--user", "mark",
                 "--password", "pw")
        check(r.returncode == 0, "user add on LMDB")
        check(mode(lmdb) == 0o700, "the LMDB folder is 0700 (is %o)"
              % mode(lmdb))
        for name in sorted(os.listdir(lmdb)):
            path = os.path.join(lmdb, name)
            check(mode(path) == 0o600, "LMDB %s is 0600 (is %o)"
                  % (name, mode(path)))
    return checks.verdict()


if __name__ == "__main__":
    sys.exit(main())
