"""An existing coordinator from Python: sweep(workers=0, bind=..., wait=False) starts
one that waits for remote workers, a bt-worker attaches to it, and status()/attach()
follow its progress and read the results so far; the final DataFrames equal the
coordinator's results.csv and ranking.csv (read by pandas directly)."""
import os
import subprocess
import time

import pandas as pd

import backtester as btr
from engine_util import BIN, STRATS, TmpCase, bt, read, shared_store, write


class AttachToCoordinator(TmpCase):
    def setUp(self):
        super().setUp()
        self.store = shared_store(self, self.tmp)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        super().tearDown()

    def test_status_and_attach_follow_a_remote_sweep(self):
        out = os.path.join(self.tmp, "sweep")
        cfg = {"strategy": "SlowCross", "strategy_python": os.path.join(STRATS, "slow_cross.py"),
               "data": {"store": self.store, "symbols": ["ORCL", "NVDA"]},
               "sweep": {"params.fast": [5, 10, 20], "params.slow": [30, 60, 90]}}
        h = btr.sweep(cfg, out=out, workers=0, bind="tcp://127.0.0.1:*", wait=False)
        self.procs.append(h.process)
        st = h.status()
        self.assertEqual((st.state, st.coordinator, st.total, st.done), ("running", "running", 9, 0))
        self.assertTrue(st.endpoint.startswith("tcp://127.0.0.1:"), st.endpoint)
        self.assertNotIn(st.endpoint, ("tcp://127.0.0.1:*", "tcp://127.0.0.1:0"))
        self.assertEqual(len(st.workers), 0)
        early = btr.attach(out)                     # nothing journaled yet
        self.assertFalse(early.complete)
        self.assertEqual(len(early.results), 0)

        w = subprocess.Popen([os.path.join(BIN, "bt-worker"), "--connect", st.endpoint,
                              "--threads", "1", "--name", "py-test-worker", "--insecure",
                              "--cache", os.path.join(self.tmp, "cache")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(w)  # --insecure: loads the shipped .py from this loopback coordinator
        # watch it work: each job sleeps 0.15 s in init, so we see it part-way
        seen, partial, deadline = set(), None, time.monotonic() + 120
        while time.monotonic() < deadline:
            st = btr.status(out)
            seen.add(st.done)
            if 0 < st.done < st.total and partial is None:
                partial = btr.attach(out)
                self.assertIn("py-test-worker", list(st.workers["host"]))
            if st.finished:
                break
            time.sleep(0.05)
        self.assertTrue(st.finished, f"sweep did not finish: {st}")
        self.assertEqual((st.coordinator, st.ok, st.failed), ("finished", 9, 0))
        self.assertIsNotNone(partial, f"never saw the sweep part-way; done counts {sorted(seen)}")
        self.assertFalse(partial.complete)
        self.assertGreater(len(partial.results), 0)
        self.assertTrue(partial.ranking.empty)

        res = btr.attach(out, wait=True, timeout=120)
        self.assertTrue(res.complete)
        self.assertEqual(res.status.coordinator, "finished")
        csv_results = pd.read_csv(os.path.join(out, "results.csv"), index_col="job_id",
                                  keep_default_na=False, na_values=[""])
        csv_ranking = pd.read_csv(os.path.join(out, "ranking.csv"), index_col="rank",
                                  keep_default_na=False, na_values=[""])
        pd.testing.assert_frame_equal(res.results, csv_results)
        pd.testing.assert_frame_equal(res.ranking, csv_ranking)
        self.assertEqual(len(res.results), 9)
        # the rows seen part-way are exactly those rows of the final results.csv
        pd.testing.assert_frame_equal(partial.results, csv_results.loc[partial.results.index])
        # the journal so far, read once the sweep is done, is results.csv itself
        so_far = btr.cluster._so_far(out)
        pd.testing.assert_frame_equal(so_far, csv_results)

        done = h.wait(timeout=60)
        self.assertEqual(done.returncode, 0)
        pd.testing.assert_frame_equal(done.results, csv_results)

    def test_results_so_far_of_a_finished_sweep_are_its_results_csv(self):
        # symbol-set axis (label + index columns), failed jobs, a walk-forward (window axis)
        cases = {
            "faulty": f"strategy: Faulty\nstrategy_python: {os.path.join(STRATS, 'faulty.py')}\n"
                      f"data: {{store: {self.store}, symbols: [ORCL]}}\n"
                      "sweep:\n  params.mode: [0, 1]\n  data.symbols: [[ORCL], [ORCL, NVDA]]\n",
            "wf": f"strategy: sma_cross\ndata: {{store: {self.store}, symbols: [ORCL]}}\n"
                  "walk_forward: {train: 3y, test: 1y}\nsweep:\n  params.fast: [5, 10]\n"
                  "  execution.commission_pct: {from: 0, to: 0.3, step: 0.1}\n",
        }
        for name, text in cases.items():
            out = os.path.join(self.tmp, name)
            cfg = write(os.path.join(self.tmp, f"{name}.yaml"), text)
            rc, _, err = bt("sweep", cfg, "--out", out, "--workers", "1", check=False)
            self.assertIn(rc, (0, 3), err)
            _, so_far, _ = bt("status", out, "--results")
            self.assertEqual(so_far, read(os.path.join(out, "results.csv")), name)
            self.assertGreater(so_far.count("\n"), 4)
        self.assertIn(",ORCL+NVDA,1,", read(os.path.join(self.tmp, "faulty", "results.csv")))
        self.assertIn(",failed,", read(os.path.join(self.tmp, "faulty", "results.csv")))
        _, js, _ = bt("status", os.path.join(self.tmp, "wf"), "--json")
        self.assertIn("\"coordinator\": \"finished\"", js)
        st = btr.status(os.path.join(self.tmp, "wf"))
        self.assertEqual((st.state, st.coordinator, st.failed), ("finished", "finished", 0))
        self.assertEqual(st.total, st.ok)

    def test_stopped_coordinator_reads_as_interrupted_with_partial_results(self):
        cfg = {"strategy": "SlowCross", "strategy_python": os.path.join(STRATS, "slow_cross.py"),
               "data": {"store": self.store, "symbols": ["ORCL"]},
               "sweep": {"params.fast": [5, 10], "params.slow": [30, 60]}}
        out = os.path.join(self.tmp, "s")
        h = btr.sweep(cfg, out=out, workers=0, bind="tcp://127.0.0.1:*", wait=False)
        self.procs.append(h.process)
        self.assertEqual(h.status().coordinator, "running")
        h.stop()
        st = btr.status(out)
        self.assertEqual((st.state, st.coordinator, st.done), ("interrupted", "interrupted", 0))
        res = btr.attach(out, wait=True, timeout=10)   # does not wait for a stopped sweep
        self.assertFalse(res.complete)
        self.assertEqual(len(res.results), 0)

    def test_attach_wait_returns_when_the_coordinator_died(self):
        cfg = {"strategy": "sma_cross", "data": {"store": self.store, "symbols": ["ORCL"]},
               "sweep": {"params.fast": [5, 10]}}
        out = os.path.join(self.tmp, "k")
        h = btr.sweep(cfg, out=out, workers=0, bind="tcp://127.0.0.1:*", wait=False)
        self.procs.append(h.process)
        self.assertEqual(h.status().coordinator, "running")
        h.process.kill()                       # SIGKILL: no final status.json
        h.process.wait()
        self.assertEqual(btr.status(out).coordinator, "gone")
        res = btr.attach(out, wait=True, timeout=60, poll=0.5)   # once the file is 10 s old
        self.assertFalse(res.complete)
        self.assertEqual((res.status.state, res.status.coordinator), ("running", "gone"))
        self.assertGreater(res.status.age_ms, 10000)

    def test_status_of_a_folder_that_is_no_sweep(self):
        with self.assertRaises(btr.BacktestError) as e:
            btr.status(self.tmp)
        self.assertIn("status.json", str(e.exception))

    def test_keywords_reach_bt_sweep(self):
        # a network bind without keys is refused unless insecure=True: bt's own message
        cfg = {"strategy": "sma_cross", "data": {"store": self.store, "symbols": ["ORCL"]},
               "sweep": {"params.fast": [5, 10]}}
        with self.assertRaises(btr.BacktestError) as e:
            btr.sweep(cfg, out=os.path.join(self.tmp, "a"), workers=0, bind="tcp://*:0")
        self.assertIn("--insecure", str(e.exception))
        res = btr.sweep(cfg, out=os.path.join(self.tmp, "b"), workers=1, threads=1,
                        bind="tcp://127.0.0.1:*")
        self.assertTrue(res.ok)
        self.assertEqual(len(res.results), 2)
