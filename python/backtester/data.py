"""DataFrames into a bar store (bt data import)."""
from __future__ import annotations

import os
import tempfile
from typing import Mapping, Union

import numpy as np
import pandas as pd

from ._cli import BacktestError, run_bt

_COLS = ("open", "high", "low", "close")


def _frame_csv(df: pd.DataFrame, path: str) -> None:
    """Writes df as time,open,high,low,close,volume with time in epoch seconds
    and a 9-digit fraction (bt data import --epoch s): exact to the nanosecond."""
    cols = {c.lower(): c for c in df.columns}
    missing = [c for c in _COLS if c not in cols]
    if missing:
        raise BacktestError(f"DataFrame lacks column(s) {', '.join(missing)}; needs open, high, "
                            "low, close (volume optional) and a DatetimeIndex")
    idx = df.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise BacktestError("DataFrame index must be a DatetimeIndex (the bar times)")
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    ns = idx.asi8
    if len(ns) and ns.min() < 0:
        raise BacktestError("bar times before 1970 are not supported by the DataFrame import")
    times = [f"{t // 1_000_000_000}.{t % 1_000_000_000:09d}" for t in ns.tolist()]
    out = pd.DataFrame({"time": times})
    for c in _COLS:
        out[c] = np.asarray(df[cols[c]], dtype=float)
    out["volume"] = np.asarray(df[cols["volume"]], dtype=float) if "volume" in cols else 0.0
    out.to_csv(path, index=False, float_format="%.17g")


def import_frames(frames: Union[pd.DataFrame, Mapping[str, pd.DataFrame]], store: str,
                  symbol: str = "") -> str:
    """Imports one DataFrame (give ``symbol``) or a dict symbol -> DataFrame into the HDF5
    bar store at ``store`` (created or extended); returns the store path. Each frame needs
    open/high/low/close (any case; volume optional) and a DatetimeIndex (naive = UTC)."""
    if isinstance(frames, pd.DataFrame):
        if not symbol:
            raise BacktestError("import_frames(df, store, symbol=...): name the symbol")
        frames = {symbol: frames}
    d = os.path.dirname(os.path.abspath(store))
    os.makedirs(d, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bt-import-") as tmp:
        for sym, df in frames.items():
            csv = os.path.join(tmp, f"{sym}.csv")
            _frame_csv(df, csv)
            run_bt(["data", "import", csv, "--symbol", sym, "--epoch", "s", "--out", store])
    return store
