"""The Python API: DataFrame -> store -> run -> DataFrames equal to the CLI's CSVs;
sweeps and their folders; the C indicators on numpy arrays; errors as exceptions."""
import json
import os
import unittest

import numpy as np
import pandas as pd

import backtester as btr
from engine_util import EXAMPLES, SHARED, TmpCase, bt, shared_store


def orcl_frame() -> pd.DataFrame:
    """ORCL from ../shared/data read by pandas alone (independent of bt's importer)."""
    path = os.path.join(SHARED, "orcl-1995-2014.txt")
    df = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
    return df[["Open", "High", "Low", "Close", "Volume"]]


class Indicators(unittest.TestCase):
    def test_sma_by_hand(self):
        out = btr.indicator("sma", np.arange(1.0, 11.0), 4)["value"]
        # hand: (1+2+3+4)/4 = 2.5, then 3.5 ... 8.5; NaN for the first 3 bars
        self.assertTrue(np.isnan(out[:3]).all())
        np.testing.assert_array_equal(out[3:], np.arange(2.5, 9.0, 1.0))

    def test_bollinger_outputs_and_errors(self):
        x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
        out = btr.indicator("bollinger", x, 5, 2)
        self.assertGreaterEqual(len(out), 3)
        vals = [v[-1] for v in out.values()]
        # hand: mean 3, population sd sqrt(2): the middle band is 3, bands at 3 +- 2*sqrt(2)
        self.assertIn(3.0, vals)
        self.assertTrue(any(abs(v - (3 + 2 * np.sqrt(2))) < 1e-12 for v in vals), vals)
        with self.assertRaises(btr.BacktestError):
            btr.indicator("no_such_kind", x, 3)
        with self.assertRaises(btr.BacktestError) as e:
            btr.indicator("sma", x, 0)
        self.assertIn("sma", str(e.exception))


class RoundTrip(TmpCase):
    def test_dataframe_store_run_equals_cli_csvs(self):
        if not os.path.exists(os.path.join(SHARED, "orcl-1995-2014.txt")):
            self.skipTest("no real data")
        store = btr.import_frames({"ORCL": orcl_frame()}, os.path.join(self.tmp, "df.h5"))
        cfg = {"strategy": "sma_cross", "params": {"fast": 10, "slow": 30},
               "data": {"store": store, "symbols": ["ORCL"]}}
        res = btr.run(cfg, out=os.path.join(self.tmp, "api"))
        # the CLI on the CSV file itself
        cli_store = shared_store(self, self.tmp)
        cfgp = os.path.join(self.tmp, "cli.yaml")
        with open(cfgp, "w") as f:
            f.write(f"strategy: sma_cross\nparams: {{fast: 10, slow: 30}}\n"
                    f"data: {{store: {cli_store}, symbols: [ORCL]}}\n")
        bt("run", cfgp, "--out", os.path.join(self.tmp, "cli"))
        cli = lambda n: pd.read_csv(os.path.join(self.tmp, "cli", n), keep_default_na=False,
                                    na_values=[""])
        t = cli("trades.csv")
        self.assertGreater(len(t), 10)
        self.assertIsInstance(res.trades.index, pd.DatetimeIndex)
        np.testing.assert_array_equal(res.trades["pnl"].to_numpy(), t["pnl"].to_numpy())
        np.testing.assert_array_equal(res.trades.index.strftime("%Y-%m-%d"), t["entry_time"])
        e = cli("equity.csv")
        self.assertIsInstance(res.equity.index, pd.DatetimeIndex)
        np.testing.assert_array_equal(res.equity["equity"].to_numpy(), e["equity"].to_numpy())
        o = cli("orders.csv")
        np.testing.assert_array_equal(res.orders["avg_price"].to_numpy(), o["avg_price"].to_numpy())
        with open(os.path.join(self.tmp, "cli", "metrics.json")) as f:
            cli_metrics = json.load(f)
        self.assertEqual(res.metrics["final_equity"], cli_metrics["final_equity"])
        self.assertIn("final_equity", res._repr_html_())

    def test_errors_carry_the_cli_message(self):
        with self.assertRaises(btr.BacktestError) as e:
            btr.run({"strategy": "sma_cross", "data": {"store": "/nonexistent/x.h5"},
                     "params": {"fats": 3}})
        self.assertIn("fats", str(e.exception))  # bt names the unknown key
        with self.assertRaises(btr.BacktestError):
            btr.import_frames(pd.DataFrame({"close": [1.0]}), "x.h5", symbol="X")


class Sweeps(TmpCase):
    def test_python_strategy_sweep_from_dict(self):
        store = shared_store(self, self.tmp)
        cfg = {"strategy": "SmaCross", "strategy_python": os.path.join(EXAMPLES, "sma_cross.py"),
               "data": {"store": store, "symbols": ["ORCL", "NVDA"]},
               "sweep": {"params.fast": [5, 10], "params.slow": [30, 50]}}
        sw = btr.sweep(cfg, out=os.path.join(self.tmp, "sw"), workers=2)
        self.assertTrue(sw.ok)
        self.assertEqual(len(sw.results), 4)
        self.assertEqual(list(sw.ranking.index[:1]), [1])
        again = btr.read_sweep(os.path.join(self.tmp, "sw"))
        pd.testing.assert_frame_equal(sw.results, again.results)
        self.assertIn("sweep", sw._repr_html_())

    def test_walk_forward_folder_and_config_file(self):
        store = shared_store(self, self.tmp)
        cfgp = os.path.join(self.tmp, "wf.yaml")
        with open(cfgp, "w") as f:
            f.write(f"strategy: sma_cross\ndata: {{store: {store}, symbols: [ORCL]}}\n"
                    "walk_forward: {train: 3y, test: 1y}\n"
                    "sweep:\n  params.fast: [5, 10]\n  params.slow: [30, 60]\n")
        out = os.path.join(self.tmp, "wf")
        btr.sweep(cfgp, out=out, workers=1)                   # a config file, not a dict
        w = btr.read_walkforward(out)
        cli = pd.read_csv(os.path.join(out, "walkforward.csv"))
        self.assertGreater(len(cli), 5)
        pd.testing.assert_frame_equal(w.walkforward, cli)
        self.assertIsInstance(w.oos_equity.index, pd.DatetimeIndex)
        oos = pd.read_csv(os.path.join(out, "oos_equity.csv"))
        np.testing.assert_array_equal(w.oos_equity["equity"].to_numpy(), oos["equity"].to_numpy())
        np.testing.assert_array_equal(w.oos_equity.index.strftime("%Y-%m-%d"), oos["time"])
        r = btr.run(cfgp, out=os.path.join(self.tmp, "run"))  # bt run of the same file
        self.assertGreater(len(r.trades), 10)


class Jupyter(TmpCase):
    """Results render as HTML tables; report() shows report.html inline through
    IPython.display.IFrame (a stand-in module here: Debian's IPython is not a dependency)."""

    def test_report_inline(self):
        import sys
        import types
        shown = {}

        class IFrame:
            def __init__(self, src, width, height):
                shown.update(src=src, width=width, height=height)

        fake = types.ModuleType("IPython")
        fake.display = types.ModuleType("IPython.display")
        fake.display.IFrame = IFrame
        saved = {k: sys.modules.get(k) for k in ("IPython", "IPython.display")}
        sys.modules.update({"IPython": fake, "IPython.display": fake.display})
        try:
            store = shared_store(self, self.tmp)
            res = btr.run({"strategy": "sma_cross", "data": {"store": store, "symbols": ["ORCL"]}},
                          out=os.path.join(self.tmp, "r"))
            html = res._repr_html_()
            self.assertIn("<table>", html)
            self.assertIn("sharpe", html)
            if not os.path.exists(os.path.join(self.tmp, "r", "report.html")):
                self.skipTest("this bt run wrote no report.html")
            self.assertIsInstance(res.report(), IFrame)
            self.assertTrue(shown["src"].endswith(os.path.join("r", "report.html")), shown)
        finally:
            for k, v in saved.items():
                if v is None:
                    sys.modules.pop(k, None)
                else:
                    sys.modules[k] = v


if __name__ == "__main__":
    unittest.main()
