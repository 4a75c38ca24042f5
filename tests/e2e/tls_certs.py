"""A private certificate authority made with the `openssl` command at test
run time, into a directory of the caller's (nothing is committed).

    certs = make_certs(directory)
    certs["root"]         # the root CA's certificate (what clients trust)
    certs["chain"]        # leaf for 127.0.0.1 + localhost, then intermediate
    certs["key"]          # the leaf's private key
    certs["other_root"]   # an unrelated CA (the "wrong CA")
    certs["expired"]      # chain whose leaf expired yesterday (same key)
    certs["wrong_host"]   # chain whose leaf names only other.example (same key)
    certs["other_key"]    # a key that matches none of the certificates

Keys are ECDSA P-256: quick to make. Run as a script it prints the paths:
    python3 tls_certs.py DIR
"""
import os
import subprocess
import sys

_CA_CONFIG = """
[ca]
default_ca = test_ca
[test_ca]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = anything
copy_extensions = none
unique_subject = no
[anything]
commonName = supplied
"""


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _key(name, cwd):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", name + ".key", cwd=cwd)
    return name + ".key"


def _self_signed(name, cwd):
    key = _key(name, cwd)
    _openssl("req", "-x509", "-new", "-key", key, "-out", name + ".pem",
             "-subj", "/CN=syncstack test " + name, "-days", "3",
             "-addext", "basicConstraints=critical,CA:true",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=cwd)
    return name + ".pem"


def _sign(csr_key, subject, extensions, issuer, out, cwd, start=None,
          end=None):
    """Signs a certificate for `csr_key` with `issuer` (name of a CA made
    here) through `openssl ca`, so that start and end dates can be set."""
    ca_dir = os.path.join(cwd, issuer + "-ca")
    os.makedirs(ca_dir, exist_ok=True)
    index = os.path.join(ca_dir, "index.txt")
    if not os.path.exists(index):
        open(index, "w").close()
        with open(os.path.join(ca_dir, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(ca_dir, "ca.cnf"), "w") as f:
            f.write(_CA_CONFIG.format(dir=ca_dir))
    with open(os.path.join(cwd, out + ".ext"), "w") as f:
        f.write(extensions)
    _openssl("req", "-new", "-key", csr_key, "-subj", subject, "-out",
             out + ".csr", cwd=cwd)
    dates = (["-startdate", start, "-enddate", end] if start else
             ["-days", "2"])
    _openssl("ca", "-batch", "-notext", "-config",
             os.path.join(ca_dir, "ca.cnf"), "-cert", issuer + ".pem",
             "-keyfile", issuer + ".key", "-in", out + ".csr", "-out",
             out + ".pem", "-extfile", out + ".ext", *dates, cwd=cwd)
    return out + ".pem"


def _concat(out, parts, cwd):
    with open(os.path.join(cwd, out), "w") as f:
        for part in parts:
            with open(os.path.join(cwd, part)) as p:
                f.write(p.read())
    return out


LEAF_EXT = ("basicConstraints=critical,CA:false\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n")


def make_certs(cwd):
    """Makes every file above in `cwd`; returns their absolute paths."""
    _self_signed("root", cwd)
    _self_signed("other_root", cwd)
    _key("intermediate", cwd)
    _sign("intermediate.key", "/CN=syncstack test intermediate",
          "basicConstraints=critical,CA:true,pathlen:0\n"
          "keyUsage=critical,keyCertSign,cRLSign\n", "root",
          "intermediate", cwd)
    _key("leaf", cwd)
    _key("other", cwd)
    _sign("leaf.key", "/CN=127.0.0.1",
          LEAF_EXT + "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
          "intermediate", "leaf", cwd)
    _sign("leaf.key", "/CN=127.0.0.1",
          LEAF_EXT + "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
          "intermediate", "expired_leaf", cwd,
          start="20200101000000Z", end="20200201000000Z")
    _sign("leaf.key", "/CN=other.example",
          LEAF_EXT + "subjectAltName=DNS:other.example\n",
          "intermediate", "wrong_host_leaf", cwd)
    # The same key signed by the unrelated CA: "wrong CA" from the client's
    # side when it trusts `root`.
    _sign("leaf.key", "/CN=127.0.0.1",
          LEAF_EXT + "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
          "other_root", "other_leaf", cwd)
    files = {
        "root": "root.pem",
        "other_root": "other_root.pem",
        "key": "leaf.key",
        "other_key": "other.key",
        "chain": _concat("chain.pem", ["leaf.pem", "intermediate.pem"], cwd),
        "expired": _concat("expired.pem", ["expired_leaf.pem",
                                           "intermediate.pem"], cwd),
        "wrong_host": _concat("wrong_host.pem", ["wrong_host_leaf.pem",
                                                 "intermediate.pem"], cwd),
        "other_chain": "other_leaf.pem",
    }
    return {k: os.path.join(cwd, v) for k, v in files.items()}


if __name__ == "__main__":
    for name, path in sorted(make_certs(sys.argv[1]).items()):
        print(name, path)
