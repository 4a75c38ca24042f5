"""Fixtures: the package from this checkout, and a real `syncstack serve`.

Environment (set by CTest): SYNCSTACK_LIB (libsyncstack.so) and
SYNCSTACK_BIN (the syncstack program, for the server).
"""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "kits"))

from serve_process import ServeProcess  # noqa: E402


def syncstack_bin():
    path = os.environ.get("SYNCSTACK_BIN")
    if not path:
        pytest.fail("SYNCSTACK_BIN is not set (the syncstack program)")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A serve on 127.0.0.1 with the user mark / mark-pw, shared by the
    tests of a module (each syncs its own collections); yields its URL."""
    store = "sqlite:" + str(tmp_path_factory.mktemp("serve") / "server.db")
    subprocess.run([syncstack_bin(), "user", "add", "--store", store,
                    "--user", "mark", "--password", "mark-pw"], check=True,
                   stdout=subprocess.DEVNULL)
    serve = ServeProcess(syncstack_bin(), "--store", store, "--listen",
                         "127.0.0.1:0")
    try:
        yield serve.url
    finally:
        assert serve.stop() == 0, serve.stderr()
