"""bt run and bt sweep from Python."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Mapping, Optional, Sequence, Union

from ._cli import run_bt
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
          sets: Optional[Mapping[str, Any]] = None, args: Sequence[str] = ()) -> SweepResult:
    """Runs a sweep (bt sweep) on local workers (``workers``; default one per core) or with
    any other bt sweep options in ``args`` (e.g. ["--bind", "tcp://*:5555", "--workers", "0"]).
    Failed jobs do not raise: see ``result.failures``. Bad configs raise BacktestError."""
    out = out or tempfile.mkdtemp(prefix="bt-sweep-")
    os.makedirs(out, exist_ok=True)
    cfg = _config_file(config, out)
    a = ["sweep", cfg, "--out", out, *_sets(sets), *args]
    if workers is not None:
        a += ["--workers", str(workers)]
    p = run_bt(a, ok=(0, 3))
    return read_sweep(out, p.returncode)
