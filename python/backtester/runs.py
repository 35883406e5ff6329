"""bt run and bt sweep from Python."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any, Mapping, Optional, Sequence, Union

from ._cli import BacktestError, bt_path, run_bt
from .cluster import RunningSweep
from .results import RunResult, SweepResult, read_run, read_sweep

Config = Union[str, os.PathLike, Mapping[str, Any]]


def _config_file(config: Config, folder: str) -> str:
    """A path for config: itself if it is a file, else the dict written as JSON (valid YAML)."""
    if isinstance(config, Mapping):
        path = os.path.join(folder, "config.yaml")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
        return path
    return os.fspath(config)


def _sets(sets: Optional[Mapping[str, Any]]) -> list:
    out = []
    for k, v in (sets or {}).items():
        out += ["--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    return out


def run(config: Config, out: Optional[str] = None, sets: Optional[Mapping[str, Any]] = None,
        threads: Optional[int] = None) -> RunResult:
    """Runs one backtest (bt run) from a config file or dict; returns its RunResult.
    ``out``: the output folder (a temporary one is kept when None)."""
    out = out or tempfile.mkdtemp(prefix="bt-run-")
    os.makedirs(out, exist_ok=True)
    args = ["run", _config_file(config, out), "--out", out, *_sets(sets)]
    if threads is not None:
        args += ["--threads", str(threads)]
    run_bt(args)
    return read_run(out)


def sweep(config: Config, out: Optional[str] = None, workers: Optional[int] = None,
          sets: Optional[Mapping[str, Any]] = None, args: Sequence[str] = (), *,
          threads: Optional[int] = None, bind: Optional[str] = None,
          keys: Optional[str] = None, insecure: bool = False, resume: bool = False,
          wait: bool = True) -> Union[SweepResult, RunningSweep]:
    """Runs a sweep (bt sweep) and returns its SweepResult.

    ``workers``: local bt-worker processes (default: bt sweep's, one worker with a thread per
    core, or a worker per core for a Python strategy; 0 = remote workers only), ``threads``
    per local worker. For a cluster: ``bind`` is where remote workers connect
    (``"tcp://*:5555"``; ``"tcp://127.0.0.1:*"`` lets the OS pick the port), ``keys`` a
    CurveZMQ keys folder (docs/cluster.md), ``insecure=True`` allows a network bind without
    keys. ``resume=True`` continues the sweep journaled in ``out``. Any other bt sweep
    option goes in ``args``.

    ``wait=False`` returns at once with a RunningSweep (``.status()``, ``.endpoint`` for
    ``bt-worker --connect``, ``.attach()`` for the results so far, ``.wait()``, ``.stop()``).
    Failed jobs do not raise: see ``result.failures``. Bad configs raise BacktestError."""
    if resume and not out:
        raise BacktestError("sweep(resume=True) needs out=, the folder of the sweep to continue")
    out = out or tempfile.mkdtemp(prefix="bt-sweep-")
    os.makedirs(out, exist_ok=True)
    cfg = _config_file(config, out)  # a dict is written again byte for byte on resume
    a = ["sweep", cfg, "--resume" if resume else "--out", out, *_sets(sets)]
    if workers is not None:
        a += ["--workers", str(workers)]
    if threads is not None:
        a += ["--threads", str(threads)]
    if bind is not None:
        a += ["--bind", bind]
    if keys is not None:
        a += ["--keys", os.fspath(keys)]
    if insecure:
        a.append("--insecure")
    a += list(args)
    if not wait:
        cmd = [bt_path(), *a]
        log = tempfile.TemporaryFile(mode="w+", prefix="bt-sweep-log-")
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True)
        return RunningSweep(out, proc, cmd, log)
    p = run_bt(a, ok=(0, 3))
    return read_sweep(out, p.returncode)
