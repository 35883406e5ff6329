"""A grid point that crashes its worker (a Python strategy that segfaults its
process on one parameter value): the sweep ends with that point FAILED, its
error naming the signal, and every other point ok — with one local worker
(the restart budget starts over as points finish) and with two (the points
batched with the crashing one are suspects, run alone, and finish). Before
session 11 the one-worker sweep stopped restarting its worker after two
crashes and sat until --idle-timeout, and innocent points could fail."""
import csv
import os
import subprocess
import unittest

from engine_util import BIN, TmpCase, bt, write

POISON_PY = """
import os, signal
from backtester import Strategy
class Poison(Strategy):
    \"\"\"flat; point p == 7 kills its own process on bar 100\"\"\"
    params = {"p": (1, 1, 1000, "which point")}
    def init(self):
        self.n = 0
    def on_bar(self, ctx):
        self.n += 1
        if self.p.p == 7 and self.n == 100:
            os.kill(os.getpid(), signal.SIGSEGV)
"""


class CrashingPoint(TmpCase):
    def _sweep(self, workers):
        store = os.path.join(self.tmp, "d.h5")
        if not os.path.exists(store):
            bt("data", "synth", "--out", store, "--symbols", "1", "--bars", "400", "--seed", "5")
        write(os.path.join(self.tmp, "poison.py"), POISON_PY)
        cfg = write(os.path.join(self.tmp, "c.yaml"),
                    f"strategy: Poison\nstrategy_python: poison.py\n"
                    f"data: {{store: {store}, symbols: all}}\n"
                    f"sweep:\n  params.p: {{from: 1, to: 30, step: 1}}\n")
        out = os.path.join(self.tmp, f"s{workers}")
        # --idle-timeout 100: a sweep left without workers would end there (exit 1), not pass
        r = subprocess.run([os.path.join(BIN, "bt"), "sweep", cfg, "--out", out,
                            "--workers", str(workers), "--idle-timeout", "100"],
                           cwd=self.tmp, capture_output=True, text=True, timeout=240)
        return r, out

    def _check(self, workers):
        r, out = self._sweep(workers)
        # 3: finished, some jobs failed (docs/sweep.md "Exit codes of bt sweep")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr[-3000:])
        with open(os.path.join(out, "failures.csv"), encoding="utf-8") as f:
            failed = list(csv.DictReader(f))
        self.assertEqual([row["params.p"] for row in failed], ["7"], failed)
        self.assertIn("killed by signal 11", failed[0]["error"])
        self.assertIn("the job may crash or hang workers", failed[0]["error"])
        with open(os.path.join(out, "results.csv"), encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        ok = sorted(int(row["params.p"]) for row in rows if row["status"] == "ok")
        self.assertEqual(ok, [p for p in range(1, 31) if p != 7])
        # each crash was seen at once (the process reaped), not after a lease expired
        self.assertIn("died (killed by signal 11)", r.stderr)
        self.assertNotIn("silent for", r.stderr)

    def test_one_worker(self):
        self._check(1)

    def test_two_workers(self):
        self._check(2)


if __name__ == "__main__":
    unittest.main()
