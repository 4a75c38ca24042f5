#!/usr/bin/env python3
"""Runs a program against a real `syncstack serve` on 127.0.0.1.

Makes a scratch folder, adds the user "mark" (password "mark-pw") to a
fresh SQLite server store, starts serve on a free port, runs
`<program> <url> mark mark-pw <scratch dir>`, stops serve, and exits with
the program's status (1 if serve did not stop cleanly).

usage: run_with_serve.py <path to syncstack> <program>
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kits"))
from serve_process import ServeProcess  # noqa: E402

SYNCSTACK, PROGRAM = sys.argv[1], sys.argv[2]


def main():
    work = tempfile.mkdtemp(prefix="syncstack-capi-")
    try:
        store = "sqlite:" + os.path.join(work, "server.db")
        subprocess.run([SYNCSTACK, "user", "add", "--store", store, "--user",
                        "mark", "--password", "mark-pw"], check=True,
                       stdout=subprocess.DEVNULL)
        serve = ServeProcess(SYNCSTACK, "--store", store, "--listen",
                             "127.0.0.1:0")
        try:
            code = subprocess.run([PROGRAM, serve.url, "mark", "mark-pw",
                                   work]).returncode
        finally:
            stopped = serve.stop()
        if stopped != 0:
            print("serve exited with %d: %s" % (stopped, serve.stderr()))
            return code or 1
        return code
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
