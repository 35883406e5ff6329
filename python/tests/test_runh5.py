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


if __name__ == "__main__":
    unittest.main()
