"""run.h5 (bt run's per-bar series): pandas.read_hdf reads it, per-symbol positions.

A hand-worked case: buy_and_hold on AAA (6 daily bars) and BBB (4 bars from day 3), a fixed
quantity of 100 and a volume cap of 50 % of a bar's volume (60): each order fills 30 a bar at the
next open, and report.close_at_end sells everything at the last close (2024-01-08).
  AAA: ordered at day 1's close; holds 30, 60, 90 (days 2-4), 100 (day 5), 0 (day 8).
  BBB: ordered at day 3's close; holds 30 (day 4), 60 (day 5), 0 (day 8; its 90 sold at close).
Market value = quantity x the symbol's close that day (AAA 11..15, BBB 20..23).
"""
import csv
import os
import re
import shutil
import unittest

from engine_util import TmpCase, bt, write

try:
    import numpy as np
    import pandas as pd
    import tables  # noqa: F401  (pandas.read_hdf needs PyTables: Debian python3-tables)
    import h5py
    HAVE = True
except ImportError:
    HAVE = False

A = "Date,Open,High,Low,Close,Volume\n" + "".join(
    f"2024-01-0{d},{p},{p},{p},{p},60\n" for d, p in [(1, 10), (2, 11), (3, 12), (4, 13), (5, 14),
                                                      (8, 15)])
B = "Date,Open,High,Low,Close,Volume\n" + "".join(
    f"2024-01-0{d},{p},{p},{p},{p},60\n" for d, p in [(3, 20), (4, 21), (5, 22), (8, 23)])
CONFIG = """strategy: buy_and_hold
data: {store: s.h5, symbols: [AAA, BBB]}
sizing: {mode: fixed, quantity: 100}
execution: {volume_cap_pct: 50}
"""


@unittest.skipUnless(HAVE, "needs numpy, pandas, h5py and PyTables (python3-tables)")
class RunH5(TmpCase):
    def run_case(self, series):
        write(os.path.join(self.tmp, "a.csv"), A)
        write(os.path.join(self.tmp, "b.csv"), B)
        cfg = write(os.path.join(self.tmp, "c.yaml"), CONFIG)
        cwd = os.getcwd()
        os.chdir(self.tmp)
        try:
            bt("data", "import", "a.csv", "--symbol", "AAA", "--out", "s.h5")
            bt("data", "import", "b.csv", "--symbol", "BBB", "--out", "s.h5")
            bt("run", cfg, "--out", "o", "--series", series)
        finally:
            os.chdir(cwd)
        return os.path.join(self.tmp, "o")

    def test_read_hdf_positions_by_hand(self):
        out = self.run_case("both")
        df = pd.read_hdf(os.path.join(out, "run.h5"), "equity")
        self.assertIsInstance(df.index, pd.DatetimeIndex)
        self.assertEqual(str(df.index.tz), "UTC")
        self.assertEqual(list(df.columns), ["cash", "positions_value", "equity", "drawdown",
                                            "qty_AAA", "qty_BBB", "value_AAA", "value_BBB"])
        days = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04",
                               "2024-01-05", "2024-01-08"], utc=True)
        self.assertTrue((df.index == days).all())
        self.assertEqual(list(df["qty_AAA"]), [0, 30, 60, 90, 100, 0])
        self.assertEqual(list(df["qty_BBB"]), [0, 0, 0, 30, 60, 0])
        self.assertEqual(list(df["value_AAA"]), [0, 330, 720, 1170, 1400, 0])
        self.assertEqual(list(df["value_BBB"]), [0, 0, 0, 630, 1320, 0])
        # the totals equal the per-symbol values (whole numbers here: exact)
        self.assertTrue((df["value_AAA"] + df["value_BBB"] == df["positions_value"]).all())
        # equity.csv holds the same numbers
        with open(os.path.join(out, "equity.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        for col in ["cash", "positions_value", "equity", "drawdown"]:
            self.assertEqual([float(r[col]) for r in rows], list(df[col]), col)
        # orders.csv: each symbol's position after an order is done is the sum of the fills
        # done by then
        with open(os.path.join(out, "orders.csv"), newline="") as f:
            orders = list(csv.DictReader(f))
        for o in orders:
            t = pd.Timestamp(o["done"], tz="UTC")
            want = sum(float(x["filled"]) for x in orders
                       if x["symbol"] == o["symbol"] and pd.Timestamp(x["done"], tz="UTC") <= t)
            self.assertEqual(df.loc[t, "qty_" + o["symbol"]], want, o)

    def test_portfolio_of_eight_symbols(self):
        """momentum_rotation on 8 synthetic symbols (one book): every symbol has its columns,
        the values add up to positions_value, and a position changes only on a step where one
        of that symbol's orders filled (orders.csv: done, or a partial fill before it)."""
        src = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "configs", "momentum_rotation.yaml")
        store = os.path.join(self.tmp, "p.h5")
        out = os.path.join(self.tmp, "p")
        bt("data", "synth", "--out", store, "--symbols", "8", "--bars", "600", "--seed", "11")
        bt("run", src, "--set", f"data.store={store}", "--out", out, "--series", "h5")
        df = pd.read_hdf(os.path.join(out, "run.h5"), "equity")
        syms = [f"SYN{i:03d}" for i in range(8)]
        self.assertEqual(list(df.columns[4:]), [f"qty_{s}" for s in syms] +
                         [f"value_{s}" for s in syms])
        total = df[[f"value_{s}" for s in syms]].sum(axis=1)
        self.assertTrue(np.allclose(total, df["positions_value"], rtol=1e-12, atol=1e-6))
        with open(os.path.join(out, "orders.csv"), newline="") as f:
            orders = [o for o in csv.DictReader(f) if float(o["filled"]) != 0]
        held = 0
        for s in syms:
            q = df[f"qty_{s}"]
            changed = q.index[q.diff().fillna(q.iloc[0]) != 0]
            fills = {pd.Timestamp(o["done"], tz="UTC") for o in orders if o["symbol"] == s}
            self.assertTrue(set(changed) <= fills, s)
            filled = [float(o["filled"]) for o in orders if o["symbol"] == s]
            # fractional quantities: the sum of the fills to rounding (orders.csv has 15 digits)
            self.assertAlmostEqual(q.iloc[-1], sum(filled),
                                   delta=1e-9 * max(1.0, sum(abs(x) for x in filled)), msg=s)
            held += (q != 0).any()
        self.assertGreaterEqual(held, 2)  # the rotation held more than one symbol

    def test_h5py_layout(self):
        out = self.run_case("h5")
        self.assertFalse(os.path.exists(os.path.join(out, "equity.csv")))
        with h5py.File(os.path.join(out, "run.h5"), "r") as f:
            g = f["equity"]
            names = [n.decode() for n in g["axis0"][:]]
            values = g["block0_values"][:]  # one row per column
            time = g["axis1"][:]
        self.assertEqual(values.shape, (8, 6))
        self.assertEqual(time.dtype, np.int64)
        self.assertEqual(int(time[0]), 1704067200 * 10**9)  # 2024-01-01 00:00 UTC in ns
        self.assertEqual(list(values[names.index("qty_AAA")]), [0, 30, 60, 90, 100, 0])

    def test_report_rebuilds_from_run_h5(self):
        out = self.run_case("h5")
        page = os.path.join(out, "report.html")
        with open(page, encoding="utf-8") as f:
            first = f.read()
        os.remove(page)
        cwd = os.getcwd()
        os.chdir(self.tmp)  # the store path in provenance.txt is relative, as in the config
        try:
            bt("report", "o")
        finally:
            os.chdir(cwd)
        with open(page, encoding="utf-8") as f:
            self.assertEqual(f.read(), first)  # the same page from run.h5 as from the run

    def outputs(self, out):
        """Every file of a bt run folder: bytes, except run.h5 (its values and attributes, not
        its chunking), the output folder, --chunk and --writers in the command line."""
        got = {}
        for name in sorted(os.listdir(out)):
            path = os.path.join(out, name)
            if name == "run.h5":
                with h5py.File(path, "r") as f:
                    g = f["equity"]
                    got[name] = ({k: str(v) for k, v in g.attrs.items()},
                                 {k: (g[k][()].dtype.str, g[k][()].shape, g[k][()].tobytes(),
                                      {a: str(v) for a, v in g[k].attrs.items()})
                                  for k in g.keys()})
            else:
                with open(path, "rb") as f:  # the command line is in provenance
                    got[name] = re.sub(rb" --(chunk|writers) \d+", b"",
                                       f.read().replace(out.encode(), b"OUT"))
        return got

    def same_any(self, cmd, flag, values):
        """bt run with each value of flag (None: left out, the default) gives the same outputs
        as the first value; returns those outputs."""
        first = None
        for v in values:
            out = os.path.join(self.tmp, f"{flag.strip('-')}_{v}")
            shutil.rmtree(out, ignore_errors=True)
            bt(*cmd, "--out", out, *([flag, str(v)] if v is not None else []))
            got = self.outputs(out)
            if first is None:
                first = got
                continue
            self.assertEqual(sorted(got), sorted(first))
            for name in first:
                self.assertEqual(got[name], first[name], f"{flag} {v}: {name}")
        return first

    def same_any_chunk(self, cmd, chunks):
        """bt run with each --chunk (points a chunk of the streamed per-bar outputs) gives the
        same outputs as the default one."""
        return self.same_any(cmd, "--chunk", [None] + chunks)

    def test_any_writers_same_outputs(self):
        """--writers 0 (the outputs made in the engine's calls), 1 (one thread for the files,
        the statistics and the curve) and 2 (the files on one, the rest on another: the
        default) give the same outputs, on 8 symbols with both series, in chunks of 7 points so
        the threads hand over many chunks."""
        p8 = os.path.join(self.tmp, "w.h5")
        bt("data", "synth", "--out", p8, "--symbols", "8", "--bars", "1500", "--seed", "5")
        src = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "configs")
        got = self.same_any(["run", os.path.join(src, "momentum_rotation.yaml"), "--set",
                             f"data.store={p8}", "--series", "both", "--chunk", "7"],
                            "--writers", [2, 1, 0])
        self.assertIn("run.h5", got)
        self.assertIn("equity.csv", got)

    def test_any_chunk_same_outputs(self):
        """The hand case (6 steps: 4 is no divisor), a portfolio on 8 symbols (one book) and one
        strategy on 3 symbols (sleeves summed after the run), with both series."""
        write(os.path.join(self.tmp, "a.csv"), A)
        write(os.path.join(self.tmp, "b.csv"), B)
        store = os.path.join(self.tmp, "s.h5")
        bt("data", "import", os.path.join(self.tmp, "a.csv"), "--symbol", "AAA", "--out", store)
        bt("data", "import", os.path.join(self.tmp, "b.csv"), "--symbol", "BBB", "--out", store)
        cfg = write(os.path.join(self.tmp, "c.yaml"), CONFIG.replace("s.h5", store))
        got = self.same_any_chunk(["run", cfg, "--series", "both"], [1, 4, 6, 1000])
        self.assertIn("equity.csv", got)
        self.assertIn("run.h5", got)
        src = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "configs")
        p8 = os.path.join(self.tmp, "p.h5")
        bt("data", "synth", "--out", p8, "--symbols", "8", "--bars", "1500", "--seed", "11")
        self.same_any_chunk(["run", os.path.join(src, "momentum_rotation.yaml"), "--set",
                             f"data.store={p8}", "--series", "both"], [1, 7, 512])
        self.same_any_chunk(["run", os.path.join(src, "sma_cross.yaml"), "--set",
                             f"data.store={p8}", "--set", "data.symbols=[SYN000,SYN003,SYN005]",
                             "--series", "both"], [3, 1000])

    def test_one_and_two_bar_runs(self):
        """The shortest runs: one step and two steps, streamed one point a chunk or whole."""
        write(os.path.join(self.tmp, "a.csv"), A)
        store = os.path.join(self.tmp, "s1.h5")
        bt("data", "import", os.path.join(self.tmp, "a.csv"), "--symbol", "AAA", "--out", store)
        for end, rows in [("2024-01-01", 1), ("2024-01-02", 2)]:
            cfg = write(os.path.join(self.tmp, f"c{rows}.yaml"),
                        f"strategy: buy_and_hold\ndata: {{store: {store}, symbols: [AAA], "
                        f"end: '{end}'}}\n")
            got = self.same_any_chunk(["run", cfg, "--series", "both"], [1, 5])
            df = pd.read_hdf(os.path.join(self.tmp, "chunk_5", "run.h5"), "equity")
            self.assertEqual(len(df), rows)
            self.assertEqual(got["equity.csv"].count(b"\n"), rows + 1)


if __name__ == "__main__":
    unittest.main()
