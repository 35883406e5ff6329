"""A strategy_python file reaches a worker that has no copy of it: the
coordinator ships it by content hash, the worker verifies it into its cache
and runs it (docs/cluster.md, docs/python.md); results equal a local sweep."""
import csv
import io
import os
import re
import subprocess
import time

from engine_util import BIN, BT, EXAMPLES, TmpCase, bt, read, shared_store, write


class ShipPython(TmpCase):
    def test_remote_worker_fetches_and_runs_the_py_file(self):
        store = shared_store(self, self.tmp)
        cfg = write(os.path.join(self.tmp, "s.yaml"),
                    f"strategy: SmaCross\nstrategy_python: {os.path.join(EXAMPLES, 'sma_cross.py')}"
                    f"\ndata: {{store: {store}, symbols: [ORCL, YHOO]}}\n"
                    "sweep:\n  params.fast: [5, 10]\n  params.slow: [30, 60]\n")
        bt("sweep", cfg, "--out", os.path.join(self.tmp, "local"), "--workers", "1")
        log = open(os.path.join(self.tmp, "coord.log"), "w+")
        coord = subprocess.Popen([BT, "sweep", cfg, "--out", os.path.join(self.tmp, "remote"),
                                  "--bind", "tcp://127.0.0.1:*", "--insecure", "--workers", "0"],
                                 stdout=log, stderr=subprocess.STDOUT)
        try:
            endpoint = None
            deadline = time.monotonic() + 60
            while endpoint is None and time.monotonic() < deadline and coord.poll() is None:
                m = re.search(r"listening on (tcp://127\.0\.0\.1:\d+)",
                              read(os.path.join(self.tmp, "coord.log")))
                endpoint = m.group(1) if m else None
                time.sleep(0.05)  # polling the log for readiness, not a fixed wait
            self.assertIsNotNone(endpoint, read(os.path.join(self.tmp, "coord.log")))
            cache = os.path.join(self.tmp, "cache")
            w = subprocess.run([os.path.join(BIN, "bt-worker"), "--connect", endpoint,
                                "--insecure", "--cache", cache], capture_output=True, text=True,
                               timeout=300)
            self.assertEqual(coord.wait(timeout=300), 0, read(os.path.join(self.tmp, "coord.log")))
        finally:
            if coord.poll() is None:
                coord.kill()
                coord.wait()
            log.close()
        self.assertIn("fetched", w.stderr + w.stdout)
        self.assertIn("serving strategy library", read(os.path.join(self.tmp, "coord.log")))

        def rows(d):
            text = read(os.path.join(self.tmp, d, "results.csv"))
            return [r for r in csv.DictReader(io.StringIO(text))]

        local, remote = rows("local"), rows("remote")
        self.assertEqual(len(local), 4)
        self.assertEqual(local, remote)
        self.assertTrue(all(r["status"] == "ok" for r in remote))
