"""A sweep that another process runs (or ran): its coordinator's progress, the results so far.

``status(out)`` is ``bt status OUT --json``; ``attach(out)`` adds the results journaled so far
(``bt status OUT --results``) or, once the sweep has finished, its report files. Both only read
the folder, so they work from any process that sees it (on a cluster's head node, or over a
shared filesystem); the liveness verdict ("running", "gone", ...) needs the coordinator's host.
"""
from __future__ import annotations

import html
import io
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import pandas as pd

from ._cli import BacktestError, run_bt
from .results import SweepResult, _csv, read_sweep


_STALE_MS = 10000  # bt status: ten missed updates


@dataclass
class SweepStatus:
    """One reading of a sweep's status.json (written about once a second by its coordinator)."""

    folder: str
    state: str          # the file's own: "running", "finished" or "interrupted"
    coordinator: str    # bt's verdict: running, finished, interrupted, gone or stale
    pid: int
    endpoint: str       # where workers connect
    total: int
    ok: int
    failed: int
    leased: int
    queued: int
    rate: float         # jobs/s
    eta_s: float        # -1: unknown
    elapsed_s: float
    age_ms: int         # since the coordinator last wrote the file
    workers: pd.DataFrame = field(default_factory=pd.DataFrame)
    raw: Dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> int:
        """Jobs settled (ok + failed)."""
        return self.ok + self.failed

    @property
    def finished(self) -> bool:
        return self.state == "finished"

    def _repr_html_(self) -> str:
        return (f"<b>sweep</b> {html.escape(self.folder)}: {self.coordinator}, "
                f"{self.done}/{self.total} jobs ({self.failed} failed), {self.rate:.2f} jobs/s, "
                f"ETA {self.eta_s:.0f} s{self.workers.to_html() if len(self.workers) else ''}")


def status(out: str) -> SweepStatus:
    """The progress of the sweep writing to folder ``out`` (``bt status OUT --json``).

    Raises BacktestError when ``out`` holds no status.json (not a sweep folder, or not started)."""
    p = run_bt(["status", os.fspath(out), "--json"], ok=(0, 1))
    d = json.loads(p.stdout)
    jobs = d.get("jobs", {})
    return SweepStatus(
        folder=os.fspath(out), state=d.get("state", ""), coordinator=d.get("coordinator", ""),
        pid=int(d.get("pid", 0)), endpoint=d.get("endpoint", ""),
        total=int(jobs.get("total", 0)), ok=int(jobs.get("ok", 0)),
        failed=int(jobs.get("failed", 0)), leased=int(jobs.get("leased", 0)),
        queued=int(jobs.get("queued", 0)), rate=float(d.get("rate", 0.0)),
        eta_s=float(d.get("eta_s", -1.0)), elapsed_s=float(d.get("elapsed_s", 0.0)),
        age_ms=int(d.get("age_ms", -1)), workers=pd.DataFrame(d.get("workers", [])), raw=d)


def _so_far(out: str) -> pd.DataFrame:
    p = run_bt(["status", os.fspath(out), "--results"])
    if not p.stdout.strip():
        return pd.DataFrame()
    df = pd.read_csv(io.StringIO(p.stdout), keep_default_na=False, na_values=[""])
    return df.set_index("job_id") if "job_id" in df.columns else df


def attach(out: str, wait: bool = False, timeout: Optional[float] = None,
           poll: float = 1.0) -> SweepResult:
    """Reads a sweep another process runs or ran in folder ``out``.

    Finished: the report files (results, ranking, failures, summary), as ``read_sweep``.
    Still running (or stopped early): ``results`` holds the jobs journaled so far, in
    results.csv's columns, ``failures`` the failed ones, ``ranking`` is empty (it is made at
    the end) and ``complete`` is False. ``wait=True`` polls every ``poll`` s until the
    coordinator finishes or stops, or its status.json has not changed for 10 s while its pid
    is not running here (TimeoutError after ``timeout`` s). ``.status`` holds the
    progress either way."""
    out = os.fspath(out)
    deadline = None if timeout is None else time.monotonic() + timeout
    st = status(out)
    # "gone" is a pid check on this host: from another machine trust the file's age instead
    while wait and st.state == "running" and not (st.coordinator == "gone" and
                                                  st.age_ms > _STALE_MS):
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"sweep {out}: still running after {timeout} s "
                               f"({st.done}/{st.total} jobs)")
        time.sleep(poll)
        st = status(out)
    if st.finished and os.path.exists(os.path.join(out, "results.csv")):
        res = read_sweep(out)
        res.status, res.complete = st, True
        return res
    rows = _so_far(out)
    failed = rows[rows["status"] == "failed"] if "status" in rows.columns else pd.DataFrame()
    return SweepResult(folder=out, results=rows, ranking=pd.DataFrame(), failures=failed,
                       summary="", status=st, complete=False)


class RunningSweep:
    """A coordinator started by ``sweep(..., wait=False)``: a ``bt sweep`` process."""

    def __init__(self, out: str, proc: subprocess.Popen, cmd: list, log):
        self.out = out
        self.process = proc
        self._cmd = cmd
        self._log = log  # bt's stderr (a temporary file: a pipe could fill and block it)

    def status(self, timeout: float = 30.0) -> SweepStatus:
        """Its progress; waits (up to ``timeout`` s) for the first status.json."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(os.path.join(self.out, "status.json")):
            if self.process.poll() is not None:
                self._raise()
            if time.monotonic() > deadline:
                raise TimeoutError(f"sweep {self.out}: no status.json after {timeout} s")
            time.sleep(0.05)
        return status(self.out)

    @property
    def endpoint(self) -> str:
        """Where workers connect (the port bt chose for tcp://HOST:*)."""
        return self.status().endpoint

    def attach(self) -> SweepResult:
        """The results so far (see ``attach``)."""
        return attach(self.out)

    def wait(self, timeout: Optional[float] = None) -> SweepResult:
        """Waits for the coordinator to exit; its SweepResult (failed jobs do not raise)."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired as e:
            raise TimeoutError(f"sweep {self.out}: still running after {timeout} s") from e
        if self.process.returncode not in (0, 3):
            self._raise()
        self._log.close()
        res = read_sweep(self.out, self.process.returncode)
        res.complete = True
        return res

    def stop(self) -> None:
        """Interrupts the coordinator (SIGTERM): it writes a partial report; resume with
        ``sweep(..., resume=True)`` on the same folder."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait()
        self._log.close()

    def _raise(self):
        self._log.seek(0)
        err = self._log.read()
        self._log.close()
        msg = "\n".join(line for line in err.splitlines()
                        if not line[:2].isdigit() or " error" in line or " warn" in line)
        raise BacktestError(msg.strip() or f"bt exited with {self.process.returncode}",
                            self.process.returncode or 1, self._cmd)

    def __repr__(self) -> str:
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"RunningSweep({self.out!r}, {state})"
