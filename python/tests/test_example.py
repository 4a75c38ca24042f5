"""The example script runs as a researcher would run it and writes a PNG."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.path.dirname(HERE), "examples",
                       "compare_policies.py")


def test_compare_policies_writes_a_png(tmp_path):
    out = tmp_path / "policies.png"
    csv = tmp_path / "policies.csv"
    done = subprocess.run([sys.executable, EXAMPLE, "--out", str(out),
                           "--csv", str(csv), "--ops", "60",
                           "--skews", "0,30"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("policy,skew_seconds,")
    assert len(lines) > 2
    assert "wrote" in done.stdout
