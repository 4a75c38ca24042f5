#!/usr/bin/env python3
"""docs/openapi.yaml against the real `syncstack serve` on 127.0.0.1
(issue 15 item 6): every operation's documented examples (request bodies,
parameter examples) are sent, and each answer must have a documented
status, a documented content type, and a body that the schema documented
for that status validates (JSON Schema 2020-12, the document's $refs
resolved here). Error answers are checked the same way: no token (401),
no lease (428), an unknown path (404).

Operations whose server part is not in this build (the server answers 404
`not_found` for their path) are reported as SKIPPED on their own lines,
never silently; the lead's merge brings them in.

usage: examples_e2e.py <path to syncstack> <path to docs/openapi.yaml>
Exit status 0 when every check passed.
"""
import copy
import http.client
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "kits"))
from e2e_checks import Checks  # noqa: E402
from serve_process import ServeProcess  # noqa: E402

SYNCSTACK, SPEC_PATH = sys.argv[1], sys.argv[2]
USER, PASSWORD = "alice", "correct horse battery"
# The order the operations are exercised in: a session's order.
ORDER = ["login", "lock", "synchronise", "fetch", "manifest", "records",
         "reconcile", "changes", "unlock", "healthz", "readyz", "metrics"]
checks = Checks()
check = checks.check
skipped = []


def resolve(node, root, depth=0):
    """A copy of `node` with every local $ref replaced by its target."""
    assert depth < 64, "a $ref cycle"
    if isinstance(node, dict):
        if "$ref" in node:
            target = root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            merged = dict(resolve(target, root, depth + 1))
            merged.update({k: resolve(v, root, depth + 1)
                           for k, v in node.items() if k != "$ref"})
            return merged
        return {k: resolve(v, root, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, root, depth) for v in node]
    return node


def operations(spec):
    ops = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            ops[op["operationId"]] = (method.upper(), path, op)
    return ops


def request(port, method, path, headers, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def param_values(param):
    """The example values of a parameter, first one first."""
    if "examples" in param:
        return [e["value"] for e in param["examples"].values()]
    if "example" in param:
        return [param["example"]]
    return []


def variants(op):
    """Parameter sets to send: the required ones only, every one with an
    example, and each further value of a parameter with several."""
    params = [p for p in op.get("parameters", []) if p["in"] == "query"]
    required = {p["name"]: param_values(p)[0] for p in params
                if p.get("required")}
    full = dict(required)
    for p in params:
        if param_values(p):
            full[p["name"]] = param_values(p)[0]
    out = [required, full]
    for p in params:
        for value in param_values(p)[1:]:
            out.append(dict(full, **{p["name"]: value}))
    unique = []
    for v in out:
        if v not in unique:
            unique.append(v)
    return unique


def body_examples(op):
    """(content type, bytes) of each request body example; [None] when the
    operation takes no body."""
    if "requestBody" not in op:
        return [None]
    out = []
    for ctype, media in op["requestBody"]["content"].items():
        examples = [e["value"] for e in media.get("examples", {}).values()]
        if "example" in media:
            examples.append(media["example"])
        for value in examples:
            if ctype == "application/json":
                out.append((ctype, json.dumps(value).encode()))
            else:  # binary bodies are documented as hex text
                out.append((ctype, bytes.fromhex(value)))
    return out


class Session:
    def __init__(self, port):
        self.port = port
        self.token = None
        self.lease = None

    def take_lease(self, device="openapi-test"):
        status, _, data = request(self.port, "POST", "/v1/lock",
                                  self.headers(),
                                  json.dumps({"device": device}).encode())
        assert status == 200, (status, data)
        self.lease = json.loads(data)["lease"]

    def drop_lease(self):
        if self.lease:
            h = self.headers()
            h["X-Sync-Lease"] = self.lease
            request(self.port, "DELETE", "/v1/lock", h)
        self.lease = None

    def headers(self, auth=True):
        h = {}
        if auth and self.token:
            h["Authorization"] = "Bearer " + self.token
        return h


def check_answer(name, op, status, headers, data, ops_present):
    responses = op["responses"]
    documented = responses.get(str(status))
    check(documented is not None,
          "%s: status %d is documented" % (name, status))
    if documented is None:
        return None
    for hname, header in documented.get("headers", {}).items():
        if hname == "X-Request-Id" and not ops_present:
            continue  # comes with the operations part (see main)
        if header.get("required") or hname == "X-Request-Id":
            check(hname.lower() in headers,
                  "%s %d: header %s present" % (name, status, hname))
    content = documented.get("content")
    if not content:
        check(not data, "%s %d: no body, as documented" % (name, status))
        return None
    ctype = headers.get("content-type", "").split(";")[0].strip()
    check(ctype in content, "%s %d: content type %r is documented (%s)"
          % (name, status, ctype, ", ".join(content)))
    if ctype not in content:
        return None
    schema = content[ctype]["schema"]
    if ctype == "application/json":
        try:
            body = json.loads(data)
        except ValueError:
            check(False, "%s %d: the body is JSON" % (name, status))
            return None
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(
            body), key=lambda e: list(e.path))
        check(not errors, "%s %d: the body matches its schema%s"
              % (name, status, "" if not errors else ": %s at %s (%s)"
                 % (errors[0].message[:200], list(errors[0].path),
                    json.dumps(body)[:300])))
        return body
    if ctype == "application/octet-stream":
        # A binary page starts with its magic, a reconciliation message
        # with its format byte (docs/protocol.md).
        want = b"SSP1" if "binary page" in schema.get("description", "") \
            else b"\x01"
        check(data.startswith(want), "%s %d: binary body starts with %r"
              % (name, status, want))
        return data
    check(isinstance(data, bytes) and len(data) > 0,
          "%s %d: a %s body" % (name, status, ctype))
    return data


def run_operation(session, name, method, path, op, ops_present):
    secured = op.get("security", None) != []
    optional_auth = {} in op.get("security", [None])
    for params in variants(op):
        for body in body_examples(op):
            if name in ("synchronise", "unlock"):
                session.take_lease()
            headers = session.headers(auth=secured and not optional_auth)
            for p in op.get("parameters", []):
                if p["in"] != "header":
                    continue
                if p["name"] == "X-Sync-Lease":
                    headers["X-Sync-Lease"] = session.lease or ""
                elif param_values(p):
                    headers[p["name"]] = param_values(p)[0]
            data = None
            if body is not None:
                headers["Content-Type"] = body[0]
                data = body[1]
            query = "&".join("%s=%s" % kv for kv in params.items())
            target = path + ("?" + query if query else "")
            status, answer_headers, answer = request(
                session.port, method, target, headers, data)
            label = "%s %s%s" % (name, target,
                                 " (body %d bytes)" % len(data) if data else "")
            if status == 404 and answer and b'"not_found"' in answer:
                skipped.append(label)
                print("SKIPPED %s: the server has no such endpoint in this "
                      "build (its part is merged separately)" % label,
                      flush=True)
                return
            check(200 <= status < 300, "%s: a documented example succeeds "
                  "(%d %s)" % (label, status, answer[:200]))
            body_seen = check_answer(label, op, status, answer_headers,
                                     answer, ops_present)
            if name == "login" and status == 200:
                session.token = body_seen["token"]
            if name == "lock" and status == 200:
                session.lease = body_seen["lease"]
                session.drop_lease()  # each lock example starts free
            if name == "unlock":
                session.lease = None
            if name == "synchronise":
                session.drop_lease()


def check_errors(session, ops, ops_present):
    """The documented error answers: 401 without a token on every secured
    operation, 428 without a lease, 404 for an unknown path."""
    for name in ORDER:
        method, path, op = ops[name]
        if op.get("security", None) is not None or name in skipped_ops():
            continue  # login and the operations endpoints take no token
        query = "&".join("%s=%s" % (p["name"], param_values(p)[0])
                         for p in op.get("parameters", [])
                         if p["in"] == "query" and p.get("required"))
        target = path + ("?" + query if query else "")
        status, headers, data = request(session.port, method, target, {})
        check(status == 401, "%s without a token: 401 (%d)" % (name, status))
        check_answer(name + " without a token", op, status, headers, data,
                     ops_present)
    method, path, op = ops["synchronise"]
    status, headers, data = request(
        session.port, method, path,
        dict(session.headers(), **{"Content-Type": "application/json"}),
        b"{}")
    check(status == 428, "synchronise without a lease: 428 (%d)" % status)
    check_answer("synchronise without a lease", op, status, headers, data,
                 ops_present)
    status, headers, data = request(session.port, "GET", "/v1/nothing",
                                    session.headers())
    check(status == 404 and json.loads(data).get("error") == "not_found",
          "an unknown path: 404 not_found")
    errors = list(jsonschema.Draft202012Validator(
        ops["metrics"][2]["responses"]["404"]["content"]["application/json"]
        ["schema"]).iter_errors(json.loads(data)))
    check(not errors, "the 404 body matches the Error schema")


def skipped_ops():
    return {label.split()[0] for label in skipped}


def main():
    with open(SPEC_PATH, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    check(raw.get("openapi", "").startswith("3.1"), "an OpenAPI 3.1 document")
    spec = resolve(copy.deepcopy(raw), raw)
    ops = operations(spec)
    check(sorted(ops) == sorted(ORDER),
          "the test knows every documented operation (%s)" % sorted(ops))
    with tempfile.TemporaryDirectory() as work:
        store = "sqlite:" + os.path.join(work, "server.db")
        r = subprocess.run([SYNCSTACK, "user", "add", "--store", store,
                            "--user", USER, "--password", PASSWORD],
                           capture_output=True, text=True)
        check(r.returncode == 0, "user add " + USER)
        serve = ServeProcess(SYNCSTACK, "--store", store, "--listen",
                             "127.0.0.1:0")
        try:
            session = Session(serve.port)
            # X-Request-Id comes with the operations part (/healthz...).
            status, _, _ = request(serve.port, "GET", "/healthz", {})
            ops_present = status != 404
            if not ops_present:
                print("SKIPPED X-Request-Id checks: this build has no "
                      "operations part (/healthz answers 404)", flush=True)
            for name in ORDER:
                method, path, op = ops[name]
                run_operation(session, name, method, path, op, ops_present)
            check_errors(session, ops, ops_present)
        finally:
            code = serve.stop()
            check(code == 0, "serve stopped cleanly (%s)" % code)
    if skipped:
        print("SKIPPED %d request(s) of endpoints not in this build: %s"
              % (len(skipped), "; ".join(skipped)), flush=True)
    sys.exit(checks.verdict())


if __name__ == "__main__":
    main()
