"""Python strategies run by the C engine (strategy_python:), on real bars.

The proof: the same SMA 10/30 cross and RSI reversion written in Python
(python/examples) give exactly the orders, trades, equity and metrics of
the C built-ins sma_cross / rsi_reversion — bit for bit, because the
indicators are the same C code (bt_ind) and the decisions are the same
double comparisons — in bt run and in a sweep, at any worker count."""
import csv
import io
import json
import os
import subprocess
import unittest

from engine_util import EXAMPLES, SRC, STRATS, TmpCase, bt, read, shared_store, write

SYMS = "[ORCL, NVDA, YHOO]"


def results_rows(folder):
    """results.csv as {job_id: row} without the status/error columns."""
    rows = list(csv.DictReader(io.StringIO(read(os.path.join(folder, "results.csv")))))
    return {r["job_id"]: {k: v for k, v in r.items() if k not in ("status", "error")} for r in rows}


class PythonMatchesC(TmpCase):
    def setUp(self):
        super().setUp()
        self.store = shared_store(self, self.tmp)

    def cfg(self, name, strategy, pyfile=None, extra=""):
        py = f"strategy_python: {pyfile}\n" if pyfile else ""
        return write(os.path.join(self.tmp, name),
                     f"strategy: {strategy}\n{py}data: {{store: {self.store}, symbols: {SYMS}}}\n"
                     f"execution: {{commission_pct: 0.1, slippage_bps: 2}}\n{extra}")

    def check_run(self, cname, pyclass, pyfile, params=""):
        c = self.cfg("c.yaml", cname, extra=params)
        p = self.cfg("p.yaml", pyclass, os.path.join(EXAMPLES, pyfile), extra=params)
        bt("run", c, "--out", os.path.join(self.tmp, "c"))
        bt("run", p, "--out", os.path.join(self.tmp, "p"))
        orders = read(os.path.join(self.tmp, "c", "orders.csv"))
        self.assertGreater(orders.count("\n"), 20, "the C strategy should trade")
        for f in ("orders.csv", "trades.csv", "equity.csv"):
            self.assertEqual(read(os.path.join(self.tmp, "c", f)),
                             read(os.path.join(self.tmp, "p", f)), f)
        mc = json.loads(read(os.path.join(self.tmp, "c", "metrics.json")))
        mp = json.loads(read(os.path.join(self.tmp, "p", "metrics.json")))
        for k in ("config", "config_sha256", "strategy", "command_line", "provenance"):
            mc.pop(k, None)
            mp.pop(k, None)
        self.assertEqual(mc, mp)
        # and at several threads: Python runs on one thread, same bytes
        bt("run", p, "--threads", "3", "--out", os.path.join(self.tmp, "p3"))
        self.assertEqual(read(os.path.join(self.tmp, "p", "orders.csv")),
                         read(os.path.join(self.tmp, "p3", "orders.csv")))

    def test_sma_cross_run_bit_for_bit(self):
        self.check_run("sma_cross", "SmaCross", "sma_cross.py", "params: {fast: 10, slow: 30}\n")

    def test_rsi_run_bit_for_bit(self):
        self.check_run("rsi_reversion", "RsiReversion", "rsi_reversion.py")

    def test_sma_cross_sweep_bit_for_bit_at_any_worker_count(self):
        sweep = ("sweep:\n  params.fast: [5, 10, 20]\n  params.slow: [30, 60]\n")
        c = self.cfg("c.yaml", "sma_cross", extra=sweep)
        p = self.cfg("p.yaml", "SmaCross", os.path.join(EXAMPLES, "sma_cross.py"), extra=sweep)
        bt("sweep", c, "--out", os.path.join(self.tmp, "sc"), "--workers", "2")
        bt("sweep", p, "--out", os.path.join(self.tmp, "sp1"), "--workers", "1")
        bt("sweep", p, "--out", os.path.join(self.tmp, "sp2"), "--workers", "2", "--threads", "2")
        rc = results_rows(os.path.join(self.tmp, "sc"))
        self.assertEqual(len(rc), 6)
        self.assertEqual(rc, results_rows(os.path.join(self.tmp, "sp1")))
        self.assertEqual(rc, results_rows(os.path.join(self.tmp, "sp2")))


    def test_rsi_sweep_bit_for_bit(self):
        sweep = ("sweep:\n  params.period: [7, 14]\n  params.lower: [25, 30]\n")
        c = self.cfg("c.yaml", "rsi_reversion", extra=sweep)
        p = self.cfg("p.yaml", "RsiReversion", os.path.join(EXAMPLES, "rsi_reversion.py"),
                     extra=sweep)
        bt("sweep", c, "--out", os.path.join(self.tmp, "rc"), "--workers", "2")
        bt("sweep", p, "--out", os.path.join(self.tmp, "rp"), "--workers", "2")
        rc = results_rows(os.path.join(self.tmp, "rc"))
        self.assertEqual(len(rc), 4)
        self.assertGreater(len({r["final_equity"] for r in rc.values()}), 1)
        self.assertEqual(rc, results_rows(os.path.join(self.tmp, "rp")))

    def test_walk_forward_bit_for_bit(self):
        wf = ("walk_forward: {train: 3y, test: 1y}\n"
              "sweep:\n  params.fast: [5, 10, 20]\n  params.slow: [40, 80]\n")
        c = self.cfg("c.yaml", "sma_cross", extra=f"{wf}")
        p = self.cfg("p.yaml", "SmaCross", os.path.join(EXAMPLES, "sma_cross.py"), extra=wf)
        bt("sweep", c, "--out", os.path.join(self.tmp, "wc"), "--workers", "2")
        bt("sweep", p, "--out", os.path.join(self.tmp, "wp"), "--workers", "2")
        for f in ("walkforward.csv", "oos_equity.csv"):
            self.assertEqual(read(os.path.join(self.tmp, "wc", f)),
                             read(os.path.join(self.tmp, "wp", f)), f)
        self.assertGreater(read(os.path.join(self.tmp, "wc", "walkforward.csv")).count("\n"), 3)


class PythonFailures(TmpCase):
    """A strategy that raises, returns garbage, fails init, loops forever or
    mutates module globals: clear job errors, the sweep goes on."""

    def setUp(self):
        super().setUp()
        self.store = shared_store(self, self.tmp)
        self.file = os.path.join(STRATS, "faulty.py")

    def sweep(self, cls, axes, *args):
        cfg = write(os.path.join(self.tmp, "f.yaml"),
                    f"strategy: {cls}\nstrategy_python: {self.file}\n"
                    f"data: {{store: {self.store}, symbols: [ORCL, NVDA]}}\nsweep:\n{axes}")
        out = os.path.join(self.tmp, "out")
        rc, _, err = bt("sweep", cfg, "--out", out, "--workers", "2", *args, check=False)
        rows = list(csv.DictReader(io.StringIO(read(os.path.join(out, "results.csv")))))
        return rc, err, rows

    def test_raise_and_garbage_are_job_errors(self):
        rc, err, rows = self.sweep("Faulty", "  params.mode: [0, 1, 2]\n  params.seed: [1, 2]\n")
        self.assertEqual(rc, 3, err)  # finished with failed jobs
        self.assertEqual(len(rows), 6)
        by_mode = {}
        for r in rows:
            by_mode.setdefault(r["params.mode"], []).append(r)
        self.assertTrue(all(r["status"] == "ok" for r in by_mode["0"]))
        for r in by_mode["1"]:
            self.assertEqual(r["status"], "failed")
            self.assertIn("ZeroDivisionError: on_bar fails on purpose at step 50", r["error"])
        for r in by_mode["2"]:
            self.assertEqual(r["status"], "failed")
            self.assertIn("on_bar returned {'not': 'None'}; it must return None", r["error"])

    def test_init_failure_refuses_the_grid_point_like_a_c_strategy(self):
        cfg = write(os.path.join(self.tmp, "f.yaml"),
                    f"strategy: Faulty\nstrategy_python: {self.file}\n"
                    f"data: {{store: {self.store}, symbols: [ORCL]}}\n"
                    f"sweep:\n  params.mode: [0, 3]\n")
        rc, _, err = bt("sweep", cfg, "--out", os.path.join(self.tmp, "o"), check=False)
        self.assertEqual(rc, 2, err)
        self.assertIn("RuntimeError: init refuses on purpose", err)

    def test_run_reports_the_traceback(self):
        cfg = write(os.path.join(self.tmp, "r.yaml"),
                    f"strategy: Faulty\nstrategy_python: {self.file}\nparams: {{mode: 1}}\n"
                    f"data: {{store: {self.store}, symbols: [ORCL]}}\n")
        rc, _, err = bt("run", cfg, "--out", os.path.join(self.tmp, "r"), check=False)
        self.assertEqual(rc, 1)
        self.assertIn("Traceback (most recent call last)", err)
        self.assertIn("faulty.py\", line 20, in on_bar", err)

    def test_endless_loop_hits_the_time_limit_and_the_sweep_goes_on(self):
        rc, err, rows = self.sweep("Faulty", "  params.mode: [0, 4]\n",
                                   "--set", "strategy_python_timeout=1", "--job-timeout", "20")
        self.assertEqual(rc, 3, err)
        st = {r["params.mode"]: r for r in rows}
        self.assertEqual(st["0"]["status"], "ok")
        self.assertEqual(st["4"]["status"], "failed")
        self.assertIn("ran longer than the time limit of 1 s", st["4"]["error"])

    def test_module_globals_do_not_leak_between_jobs(self):
        rc, err, rows = self.sweep("Globals", "  params.seed: {from: 1, to: 8, step: 1}\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(rows), 8)
        # every job saw CALLS == 1 (a fresh module), so every result is the same
        self.assertEqual(len({r["final_equity"] for r in rows}), 1)
        self.assertTrue(all(r["status"] == "ok" for r in rows))


class PythonOrders(TmpCase):
    """ctx.order / ctx.cancel reach bt_order / bt_cancel with every field."""

    def test_order_script(self):
        store = shared_store(self, self.tmp)
        cfg = write(os.path.join(self.tmp, "o.yaml"),
                    f"strategy: Orders\nstrategy_python: {os.path.join(STRATS, 'orders.py')}\n"
                    f"data: {{store: {store}, symbols: [ORCL]}}\n")
        bt("run", cfg, "--out", os.path.join(self.tmp, "o"))
        rows = list(csv.DictReader(io.StringIO(read(os.path.join(self.tmp, "o", "orders.csv")))))
        first = rows[0]
        self.assertEqual((first["type"], first["qty"], first["status"]),
                         ("limit", "100", "cancelled"))
        self.assertGreater(float(first["limit"]), 0.0)
        market = [r for r in rows if r["type"] == "market" and r["qty"] == "10"]
        self.assertEqual(len(market), 1)
        self.assertEqual(market[0]["status"], "filled")
        stops = [r for r in rows if r["type"] == "stop" and r["qty"] == "-3"]
        self.assertEqual(len(stops), 1)
        self.assertGreater(float(stops[0]["stop"]), 0.0)
        self.assertTrue(any(r["qty"] == "5" for r in rows))
        # ctx.modify: the limit buy of 7 raised above the market fills, same id
        mod = [r for r in rows if r["type"] == "limit" and r["qty"] == "7"]
        self.assertEqual(len(mod), 1)
        self.assertEqual((mod[0]["status"], mod[0]["reason"]), ("filled", "modified"))
        # trail_atr: the market buy of 2 leaves with its ATR trailing stop
        self.assertTrue(any(r["type"] == "stop" and r["qty"] == "-2" and r["status"] == "filled"
                            for r in rows))
        # a filled trailing stop attaches nothing: no reverse stop buy appears
        self.assertFalse([r for r in rows if r["type"] == "stop" and float(r["qty"]) > 0])
        # stop-limit, placed at step 60 only after on_fill saw a fill (else the run fails)
        sl = [r for r in rows if r["type"] == "stop_limit"]
        self.assertEqual(len(sl), 1)
        self.assertEqual(sl[0]["qty"], "4")
        self.assertGreater(float(sl[0]["limit"]), float(sl[0]["stop"]))


    def test_portfolio_strategy_same_at_any_thread_count(self):
        store = shared_store(self, self.tmp)
        cfg = write(os.path.join(self.tmp, "r.yaml"),
                    f"strategy: Rotate\nstrategy_python: {os.path.join(EXAMPLES, 'rotate.py')}\n"
                    f"data: {{store: {store}}}\nsizing: {{mode: target_weight}}\n")
        bt("run", cfg, "--out", os.path.join(self.tmp, "r1"), "--threads", "1")
        bt("run", cfg, "--out", os.path.join(self.tmp, "r3"), "--threads", "3")
        orders = read(os.path.join(self.tmp, "r1", "orders.csv"))
        self.assertEqual({r["symbol"] for r in csv.DictReader(io.StringIO(orders))},
                         {"ORCL", "NVDA", "YHOO"})
        self.assertEqual(orders, read(os.path.join(self.tmp, "r3", "orders.csv")))


class MacdAtrSideBySide(TmpCase):
    """The docs' MACD + ATR trailing-stop strategy, in Python and in C
    (python/examples/macd_atr.py, macd_atr.c): the same orders and equity."""

    def test_python_and_c_agree(self):
        import backtester  # the C table, through libbacktester.so
        kinds = backtester.indicators()
        if "macd" not in kinds or "atr" not in kinds:
            self.skipTest("this build's indicator table has no macd/atr yet")
        store = shared_store(self, self.tmp)
        so = os.path.join(self.tmp, "macd_atr.so")
        subprocess.run(["cc", "-std=c17", "-O2", "-shared", "-fPIC",
                        "-I", os.path.join(SRC, "common", "engine"),
                        "-I", os.path.join(SRC, "common", "base"), "-o", so,
                        os.path.join(EXAMPLES, "macd_atr.c")], check=True)
        data = f"data: {{store: {store}, symbols: {SYMS}}}\n"
        c = write(os.path.join(self.tmp, "c.yaml"),
                  f"strategy: macd_atr\nstrategy_library: {so}\n{data}")
        p = write(os.path.join(self.tmp, "p.yaml"), f"strategy: MacdAtr\nstrategy_python: "
                  f"{os.path.join(EXAMPLES, 'macd_atr.py')}\n{data}")
        bt("run", c, "--out", os.path.join(self.tmp, "c"))
        bt("run", p, "--out", os.path.join(self.tmp, "p"))
        orders = read(os.path.join(self.tmp, "c", "orders.csv"))
        self.assertGreater(orders.count("\n"), 20)
        for f in ("orders.csv", "equity.csv"):
            self.assertEqual(read(os.path.join(self.tmp, "c", f)),
                             read(os.path.join(self.tmp, "p", f)), f)


if __name__ == "__main__":
    unittest.main()
