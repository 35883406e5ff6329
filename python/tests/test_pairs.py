"""Pair indicators (correlation, beta) in Python strategies, and the C
pairs_trading strategy written in Python (python/examples/pairs_trading.py).

The proof: on real ORCL/NVDA bars from ../shared/data the Python pairs strategy
gives the orders, trades, equity and metrics of the C pairs_trading bit for bit
(prices and log prices), in bt run and in a sweep; and the pair indicators a
strategy sees each bar equal the C array form (backtester.indicator on numpy
arrays of the bars both symbols share, read by pandas)."""
import csv
import io
import json
import os
import subprocess
import unittest

import numpy as np
import pandas as pd

from engine_util import (BT, EXAMPLES, SHARED, STRATS, TmpCase, bt, read, shared_store,
                         write)

PAIR = "[ORCL, NVDA]"
SETUP = ("execution: {commission_pct: 0.05, slippage_bps: 1, allow_short: true, "
         "margin_requirement_pct: 50}\n"
         "sizing: {mode: percent_equity, value_pct: 95, fractional: true}\n")


def results_rows(folder):
    rows = list(csv.DictReader(io.StringIO(read(os.path.join(folder, "results.csv")))))
    return {r["job_id"]: {k: v for k, v in r.items() if k not in ("status", "error")} for r in rows}


class PairsMatchC(TmpCase):
    def setUp(self):
        super().setUp()
        self.store = shared_store(self, self.tmp)

    def cfg(self, name, strategy, pyfile=None, extra=""):
        py = f"strategy_python: {pyfile}\n" if pyfile else ""
        return write(os.path.join(self.tmp, name),
                     f"strategy: {strategy}\n{py}data: {{store: {self.store}, symbols: {PAIR}}}\n"
                     f"{SETUP}{extra}")

    def check_run(self, params):
        c = self.cfg("c.yaml", "pairs_trading", extra=params)
        p = self.cfg("p.yaml", "PairsTrading", os.path.join(EXAMPLES, "pairs_trading.py"),
                     extra=params)
        bt("run", c, "--out", os.path.join(self.tmp, "c"))
        bt("run", p, "--out", os.path.join(self.tmp, "p"))
        orders = read(os.path.join(self.tmp, "c", "orders.csv"))
        self.assertGreater(orders.count("\n"), 20, "the C strategy should trade")
        self.assertEqual({r["symbol"] for r in csv.DictReader(io.StringIO(orders))},
                         {"ORCL", "NVDA"})
        for f in ("orders.csv", "trades.csv", "equity.csv"):
            self.assertEqual(read(os.path.join(self.tmp, "c", f)),
                             read(os.path.join(self.tmp, "p", f)), f)
        mc = json.loads(read(os.path.join(self.tmp, "c", "metrics.json")))
        mp = json.loads(read(os.path.join(self.tmp, "p", "metrics.json")))
        for k in ("config", "config_sha256", "strategy", "command_line", "provenance"):
            mc.pop(k, None)
            mp.pop(k, None)
        self.assertEqual(mc, mp)

    def test_run_prices_bit_for_bit(self):
        # the engine feeds `beta` (other=1)
        self.check_run("params: {beta_window: 60, z_window: 20, entry_z: 1.5, exit_z: 0.5, "
                       "stop_z: 4, log_prices: 0}\n")

    def test_run_log_prices_bit_for_bit(self):
        # the strategy feeds `beta` log prices (manual=True, ind.update(x, y))
        self.check_run("params: {beta_window: 40, z_window: 20, entry_z: 2, exit_z: 0, "
                       "stop_z: 3, log_prices: 1}\n")

    def test_sweep_bit_for_bit(self):
        sweep = ("sweep:\n  params.beta_window: [40, 120]\n  params.z_window: [10, 40]\n"
                 "  params.entry_z: [1.5, 2.5]\n  params.log_prices: [0, 1]\n")
        c = self.cfg("c.yaml", "pairs_trading", extra=sweep)
        p = self.cfg("p.yaml", "PairsTrading", os.path.join(EXAMPLES, "pairs_trading.py"),
                     extra=sweep)
        bt("sweep", c, "--out", os.path.join(self.tmp, "sc"), "--workers", "2")
        bt("sweep", p, "--out", os.path.join(self.tmp, "sp"), "--workers", "2")
        rc = results_rows(os.path.join(self.tmp, "sc"))
        self.assertEqual(len(rc), 16)
        self.assertEqual(rc, results_rows(os.path.join(self.tmp, "sp")))
        self.assertEqual(read(os.path.join(self.tmp, "sc", "ranking.csv")),
                         read(os.path.join(self.tmp, "sp", "ranking.csv")))
        self.assertGreater(len({r["final_equity"] for r in rc.values()}), 8)


class PairIndicatorValues(TmpCase):
    """What a strategy sees each bar equals bt_ind_array on the shared bars."""

    def test_probe_equals_array_form(self):
        import backtester as btr
        store = shared_store(self, self.tmp)
        out = os.path.join(self.tmp, "probe.csv")
        cfg = write(os.path.join(self.tmp, "p.yaml"),
                    f"strategy: PairProbe\nstrategy_python: {os.path.join(STRATS, 'pair_probe.py')}\n"
                    f"data: {{store: {store}, symbols: {PAIR}}}\n")
        subprocess.run([BT, "run", cfg, "--out", os.path.join(self.tmp, "r")], check=True,
                       capture_output=True, env={**os.environ, "BT_PROBE_OUT": out})
        seen = np.loadtxt(out, delimiter=",")
        # independent input: the two CSVs read by pandas, bars where both traded
        def frame(f):
            return pd.read_csv(os.path.join(SHARED, f), parse_dates=["Date"], index_col="Date",
                               float_precision="round_trip")
        both = frame("orcl-1995-2014.txt").join(frame("nvda-1999-2014.txt"), how="inner",
                                                 lsuffix="_x", rsuffix="_y")
        self.assertEqual(len(seen), len(both))
        self.assertGreater(len(both), 3900)
        xc, yc = both["Close_x"].to_numpy(), both["Close_y"].to_numpy()
        corr = btr.indicator("correlation", xc, 30, y=yc)["value"]
        beta_open = btr.indicator("beta", both["Open_y"].to_numpy(), 30,
                                  y=both["Open_x"].to_numpy())
        beta_close = btr.indicator("beta", xc, 30, y=yc)
        want = np.column_stack([corr, *beta_open.values(), *beta_close.values()])
        np.testing.assert_array_equal(seen[:, 1:], want)   # bit for bit, NaN where not ready
        self.assertTrue(np.isnan(seen[28, 1]) and not np.isnan(seen[29, 1]))
        self.assertLessEqual(np.nanmax(np.abs(seen[:, 1])), 1.0)

    def test_declaration_errors(self):
        store = shared_store(self, self.tmp)
        want = {0: "indicator beta reads two series: give the second symbol",
                1: "other=0 must be a symbol of this book other than sym=0",
                2: "indicator sma reads one series; other= is for pair kinds",
                3: "indicator atr reads whole bars",
                4: "indicator sma is fed by the engine each bar; declare it with manual=True"}
        for mode, msg in want.items():
            cfg = write(os.path.join(self.tmp, "e.yaml"),
                        f"strategy: PairErrors\nstrategy_python: "
                        f"{os.path.join(STRATS, 'pair_errors.py')}\nparams: {{mode: {mode}}}\n"
                        f"data: {{store: {store}, symbols: {PAIR}}}\n")
            rc, _, err = bt("run", cfg, "--out", os.path.join(self.tmp, f"e{mode}"), check=False)
            self.assertEqual(rc, 2, err)
            self.assertIn(msg, err)


if __name__ == "__main__":
    unittest.main()
