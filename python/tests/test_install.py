"""The package installs from the repository with Debian's Python only: a venv
that sees Debian's numpy/pandas (--system-site-packages), pip with no index
and no build isolation (no registry is reachable), then the installed copy
imports and computes an SMA through libbacktester.so."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from engine_util import BIN, SRC


class InstallFromRepo(unittest.TestCase):
    def test_pip_install_into_a_venv(self):
        tmp = tempfile.mkdtemp(prefix="bt-venv-")
        self.addCleanup(shutil.rmtree, tmp, True)
        venv = os.path.join(tmp, "venv")
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv],
                       check=True, capture_output=True, text=True, timeout=300)
        py = os.path.join(venv, "bin", "python")
        # a copy of the package source: pip must not write build files into the repository
        src = os.path.join(tmp, "python")
        shutil.copytree(os.path.join(SRC, "python"), src,
                        ignore=shutil.ignore_patterns("tests", "__pycache__", "*.egg-info",
                                                      "build"))
        p = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                            "--quiet", src], capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["BT_LIBBACKTESTER"] = os.path.join(BIN, "libbacktester.so")
        code = ("import backtester, numpy as np\n"
                "print(backtester.__file__)\n"
                "v = backtester.indicator('sma', np.array([10., 11., 12., 13.]), 3)['value']\n"
                "print(list(v[2:]))\n")
        p = subprocess.run([py, "-c", code], capture_output=True, text=True, timeout=120,
                           env=env, cwd=tmp)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertTrue(lines[0].startswith(venv), f"imported from {lines[0]}, not the venv")
        self.assertEqual(lines[1], "[11.0, 12.0]")  # (10+11+12)/3, (11+12+13)/3


if __name__ == "__main__":
    unittest.main()
