"""Back Tester from Python: DataFrames in, backtests and sweeps on the C engine, DataFrames out.

The package drives the ``bt`` program (found as ``$BT_BIN``, ``$BT_BIN_DIR/bt`` or ``bt`` on
``PATH``) and reads its output folders; errors raise :class:`BacktestError` carrying the
program's own message. Indicators run the C library (``libbacktester.so``) on numpy arrays.

>>> import backtester as btr
>>> store = btr.import_frames({"ORCL": df}, "bars.h5")
>>> res = btr.run({"strategy": "sma_cross", "data": {"store": store}})
>>> res.metrics["sharpe"], res.trades.head()
"""
from ._cli import BacktestError, bt_path
from .cluster import RunningSweep, SweepStatus, attach, status
from .data import import_frames
from .indicators import indicator, indicators
from .results import RunResult, SweepResult, read_run, read_sweep, read_walkforward
from .runs import run, sweep
from .strategy import Strategy

__all__ = [
    "BacktestError", "RunResult", "RunningSweep", "Strategy", "SweepResult", "SweepStatus",
    "attach", "bt_path", "import_frames", "status",
    "indicator", "indicators", "read_run", "read_sweep", "read_walkforward", "run", "sweep",
]
__version__ = "0.1.0"
