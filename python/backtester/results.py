"""Reading bt's output folders into DataFrames."""
from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import pandas as pd


def _csv(path: str, time_cols=(), index: Optional[str] = None) -> pd.DataFrame:
    if not os.path.exists(path):
        return pd.DataFrame()
    df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    for c in time_cols:
        if c in df.columns:
            df[c] = pd.to_datetime(df[c], errors="coerce")
    if index and index in df.columns:
        df = df.set_index(index)
    return df


def _table(d: Dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in d.items())
    return f"<table>{rows}</table>"


def _report(folder: str):
    """report.html of folder, inline in Jupyter (an IPython HTML object)."""
    path = os.path.join(folder, "report.html")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no report.html in this output folder")
    from IPython.display import IFrame  # only when asked: no import-time dependency
    return IFrame(os.path.relpath(path), width="100%", height=720)


@dataclass
class RunResult:
    """One backtest (bt run): metrics as a dict; trades, orders, equity as DataFrames."""

    folder: str
    metrics: Dict[str, Any]
    trades: pd.DataFrame
    orders: pd.DataFrame
    equity: pd.DataFrame
    provenance: str = ""

    def report(self):
        """Shows the folder's report.html inline in Jupyter."""
        return _report(self.folder)

    def _repr_html_(self) -> str:
        keys = ("final_equity", "total_return", "cagr", "sharpe", "max_drawdown", "trades")
        m = {k: self.metrics[k] for k in keys if k in self.metrics}
        return (f"<b>backtest</b> {html.escape(self.folder)}{_table(m)}"
                f"<p>trades (first 10)</p>{self.trades.head(10).to_html()}")


@dataclass
class SweepResult:
    """A sweep folder: every job's results, the ranking, failures, summary; for a
    walk-forward also the windows and the out-of-sample equity."""

    folder: str
    results: pd.DataFrame
    ranking: pd.DataFrame
    failures: pd.DataFrame
    summary: str
    walkforward: pd.DataFrame = field(default_factory=pd.DataFrame)
    oos_equity: pd.DataFrame = field(default_factory=pd.DataFrame)
    returncode: int = 0
    status: Optional[Any] = None  # SweepStatus when read with attach()
    complete: bool = True         # False: attach() to a sweep not finished (results so far)

    @property
    def ok(self) -> bool:
        """True when every job succeeded."""
        return self.failures.empty

    def report(self):
        """Shows the folder's report.html inline in Jupyter."""
        return _report(self.folder)

    def _repr_html_(self) -> str:
        head = (f"<b>sweep</b> {html.escape(self.folder)}: {len(self.results)} jobs, "
                f"{len(self.failures)} failed")
        if not self.complete:
            st = self.status
            prog = f" of {st.total} (coordinator {st.coordinator})" if st is not None else ""
            return f"{head}{prog}, so far{self.results.tail(10).to_html()}"
        return f"{head}{self.ranking.head(10).to_html()}"


def read_run(folder: str) -> RunResult:
    """Reads a bt run output folder."""
    with open(os.path.join(folder, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    prov = ""
    p = os.path.join(folder, "provenance.txt")
    if os.path.exists(p):
        with open(p, encoding="utf-8") as f:
            prov = f.read()
    return RunResult(
        folder=folder,
        metrics=metrics,
        trades=_csv(os.path.join(folder, "trades.csv"), ("entry_time", "exit_time"), "entry_time"),
        orders=_csv(os.path.join(folder, "orders.csv"), ("created", "done"), "created"),
        equity=_csv(os.path.join(folder, "equity.csv"), ("time",), "time"),
        provenance=prov,
    )


def read_sweep(folder: str, returncode: int = 0) -> SweepResult:
    """Reads a bt sweep output folder (results.csv, ranking.csv, failures.csv, summary.txt)."""
    summary = ""
    p = os.path.join(folder, "summary.txt")
    if os.path.exists(p):
        with open(p, encoding="utf-8") as f:
            summary = f.read()
    return SweepResult(
        folder=folder,
        results=_csv(os.path.join(folder, "results.csv"), (), "job_id"),
        ranking=_csv(os.path.join(folder, "ranking.csv"), (), "rank"),
        failures=_csv(os.path.join(folder, "failures.csv"), (), "job_id"),
        summary=summary,
        walkforward=_csv(os.path.join(folder, "walkforward.csv")),
        oos_equity=_csv(os.path.join(folder, "oos_equity.csv"), ("time",), "time"),
        returncode=returncode,
    )


def read_walkforward(folder: str) -> SweepResult:
    """Reads a walk-forward sweep folder (also walkforward.csv and oos_equity.csv)."""
    return read_sweep(folder)
