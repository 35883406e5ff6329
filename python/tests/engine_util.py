"""Helpers for the tests that drive the bt binary (no backtester import needed)."""
import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("BT_BIN_DIR", os.path.join(SRC, "build"))
SHARED = os.environ.get("BT_SHARED_DATA", os.path.join(SRC, "..", "shared", "data"))
BT = os.path.join(BIN, "bt")
EXAMPLES = os.path.join(SRC, "python", "examples")
STRATS = os.path.join(HERE, "strategies")
FILES = {"ORCL": "orcl-1995-2014.txt", "NVDA": "nvda-1999-2014.txt", "YHOO": "yhoo-1996-2014.txt"}


def bt(*args, check=True, timeout=600):
    """Runs bt; returns (rc, stdout, stderr)."""
    p = subprocess.run([BT, *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"bt {' '.join(args)} -> {p.returncode}\n{p.stderr[-3000:]}")
    return p.returncode, p.stdout, p.stderr


def shared_store(test: unittest.TestCase, tmp: str) -> str:
    """Imports ORCL/NVDA/YHOO from ../shared/data into tmp/bars.h5, or skips."""
    paths = [os.path.join(SHARED, f) for f in FILES.values()]
    if not all(os.path.exists(p) for p in paths):
        test.skipTest(f"real market data not found in {SHARED}")
    store = os.path.join(tmp, "bars.h5")
    for p in paths:
        bt("data", "import", p, "--out", store)
    return store


def write(path: str, text: str) -> str:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


class TmpCase(unittest.TestCase):
    def setUp(self):
        self._td = tempfile.TemporaryDirectory(prefix="bt-py-")
        self.tmp = self._td.name

    def tearDown(self):
        self._td.cleanup()
