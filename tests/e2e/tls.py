#!/usr/bin/env python3
"""`syncstack serve --tls-cert/--tls-key` and `sync --remote https://...`
with certificates made by a private CA at run time (tls_certs.py; nothing
committed), on 127.0.0.1 with the real binary:

1. serve refuses, before listening, a missing certificate file, a file that
   is not PEM, a key that does not match the certificate, and a certificate
   without its key: one line on stderr, exit non-zero.
2. A good chain (leaf + intermediate in the cert file, the client trusting
   only the root through --ca-file): two devices sync through it.
3. Refused, each with one line naming the reason and a non-zero exit: the
   system's trust store (our CA is not in it), a wrong --ca-file, an expired
   certificate, a certificate for another host name.
4. A plain-HTTP client on the TLS port gets a 400 naming https:// in clear
   and is closed at once; `sync --remote http://` says so too.

usage: tls.py <path to syncstack>
"""
import os
import socket
import sys
import tempfile
import time
import uuid

from tls_certs import make_certs

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kits"))
from cli_store import list_records, put_record  # noqa: E402
from e2e_checks import Checks  # noqa: E402
from e2e_checks import run as run_binary  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

SYNCSTACK = sys.argv[1]
checks = Checks()
check = checks.check


def run(*args):
    return run_binary(SYNCSTACK, *args, timeout=60)


def one_line(text):
    return len(text.strip().splitlines()) == 1


class TlsServer:
    """serve with `chain` and `key` on 127.0.0.1:0."""

    def __init__(self, store, chain, key):
        self.serve = ServeProcess(SYNCSTACK, "--store", store, "--listen",
                                  "127.0.0.1:0", "--tls-cert", chain,
                                  "--tls-key", key)
        check(self.serve.url.startswith("https://"),
              "serve announces an https:// URL: " + self.serve.first_line)
        self.url = self.serve.url
        self.port = self.serve.port

    def stop(self):
        code = self.serve.stop(timeout=10)
        check(code == 0, "serve stops cleanly (%d) %s" %
              (code, self.serve.stderr().strip()))


def refused_at_start(store, certs):
    cases = [
        ("a missing certificate file",
         ["--tls-cert", certs["chain"] + ".missing", "--tls-key", certs["key"]],
         "No such file"),
        ("a certificate file that is not PEM",
         ["--tls-cert", certs["key"], "--tls-key", certs["key"]],
         "not a PEM certificate chain"),
        ("a key that does not match the certificate",
         ["--tls-cert", certs["chain"], "--tls-key", certs["other_key"]],
         "does not match the certificate"),
        ("a certificate without its key",
         ["--tls-cert", certs["chain"]], "go together"),
    ]
    for what, args, reason in cases:
        r = run("serve", "--store", store, "--listen", "127.0.0.1:0", *args)
        check(r.returncode != 0 and "serving" not in r.stdout
              and reason in r.stderr and one_line(r.stderr),
              "serve refuses %s before listening (%d): %s" %
              (what, r.returncode, r.stderr.strip()))


def sync(device_store, url, *extra):
    return run("sync", "--store", device_store, "--remote", url, "--user",
               "mark", "--password", "mark-pw", *extra)


def good_chain_syncs(work, store, certs):
    server = TlsServer(store, certs["chain"], certs["key"])
    phone = "sqlite:" + os.path.join(work, "phone.db")
    laptop = "sqlite:" + os.path.join(work, "laptop.db")
    rid = str(uuid.uuid4())
    put_record(SYNCSTACK, check, phone, "phone", rid, {"title": "over TLS"})
    r = sync(phone, server.url, "--ca-file", certs["root"], "--device", "p")
    check(r.returncode == 0, "phone syncs over https with --ca-file: " +
          r.stderr.strip())
    r = sync(laptop, server.url, "--ca-file", certs["root"], "--device", "l")
    check(r.returncode == 0, "laptop syncs over https: " + r.stderr.strip())
    held = list_records(SYNCSTACK, check, laptop, "laptop")
    check(held.get(rid, {}).get("title") == "over TLS",
          "the laptop got the phone's record over TLS: %r" % held)

    expect_refused(phone, server.url, [],
                   "certificate verify failed: unable to get local issuer "
                   "certificate", "the system's trust store (no --ca-file)")
    expect_refused(phone, server.url, ["--ca-file", certs["other_root"]],
                   "certificate verify failed: unable to get local issuer "
                   "certificate", "a wrong --ca-file")
    plain_client_is_told(phone, server)
    server.stop()


def expect_refused(device_store, url, extra, reason, what):
    start = time.monotonic()
    r = sync(device_store, url, *extra)
    took = time.monotonic() - start
    check(r.returncode != 0 and reason in r.stderr and one_line(r.stderr),
          "refused with %s: one line naming the reason (%d): %s" %
          (what, r.returncode, r.stderr.strip()))
    check(took < 10, "refused at once, not retried (%.1f s)" % took)


def plain_client_is_told(device_store, server):
    with socket.create_connection(("127.0.0.1", server.port), 5) as s:
        s.settimeout(5)
        start = time.monotonic()
        s.sendall(b"GET /v1/fetch.json HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
        took = time.monotonic() - start
    check(answer.startswith(b"HTTP/1.1 400") and b"https://" in answer,
          "plain HTTP on the TLS port: a 400 naming https:// (%r)" %
          answer[:200])
    check(took < 3, "and the connection is closed at once (%.2f s)" % took)
    r = sync(device_store, server.url.replace("https://", "http://"))
    check(r.returncode != 0 and "https://" in r.stderr and one_line(r.stderr),
          "sync --remote http:// to the TLS port says https:// (%d): %s" %
          (r.returncode, r.stderr.strip()))


def bad_certificate(work, store, certs, chain, reason, what):
    server = TlsServer(store, certs[chain], certs["key"])
    device = "sqlite:" + os.path.join(work, chain + ".db")
    expect_refused(device, server.url, ["--ca-file", certs["root"]], reason,
                   what)
    server.stop()


def main():
    with tempfile.TemporaryDirectory(prefix="syncstack-tls-") as work:
        certs = make_certs(work)
        store = "sqlite:" + os.path.join(work, "server.db")
        r = run("user", "add", "--store", store, "--user", "mark",
                "--password", "mark-pw")
        check(r.returncode == 0, "user add " + r.stderr.strip())
        refused_at_start(store, certs)
        good_chain_syncs(work, store, certs)
        bad_certificate(work, store, certs, "expired",
                        "certificate verify failed: certificate has expired",
                        "an expired certificate")
        bad_certificate(work, store, certs, "wrong_host",
                        "host name mismatch: certificate is for "
                        "other.example, not 127.0.0.1",
                        "a certificate for another host")
        bad_certificate(work, store, certs, "other_chain",
                        "certificate verify failed: unable to get local "
                        "issuer certificate", "a certificate of another CA")
    sys.exit(checks.verdict())


if __name__ == "__main__":
    main()
