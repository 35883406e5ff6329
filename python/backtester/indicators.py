"""The C indicators (bt_ind) on numpy arrays, through libbacktester.so and ctypes."""
from __future__ import annotations

import ctypes as C
import os
from typing import Dict, List, Optional

import numpy as np

from ._cli import BacktestError

_BAR = np.dtype([("time", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"),
                 ("close", "<f8"), ("volume", "<f8")])
_SOURCES = ("close", "open", "high", "low", "volume", "typical")


class _Kind(C.Structure):
    _fields_ = [("name", C.c_char_p), ("summary", C.c_char_p), ("input", C.c_int),
                ("nparams", C.c_size_t), ("params", C.c_void_p), ("nout", C.c_size_t),
                ("outs", C.POINTER(C.c_char_p))]


class _ErrBuf(C.Structure):
    _fields_ = [("code", C.c_int), ("msg", C.c_char * 1024)]


_lib = None


def _load():
    global _lib
    if _lib is not None:
        return _lib
    cands = [os.environ.get("BT_LIBBACKTESTER", "")]
    if os.environ.get("BT_BIN_DIR"):
        cands.append(os.path.join(os.environ["BT_BIN_DIR"], "libbacktester.so"))
    cands.append("libbacktester.so")
    for c in cands:
        if not c:
            continue
        try:
            lib = C.CDLL(c)
            break
        except OSError:
            continue
    else:
        raise BacktestError("cannot load libbacktester.so: build the project (scripts/build) and "
                            "set BT_LIBBACKTESTER=/path/to/libbacktester.so, or install it")
    lib.bt_ind_count.restype = C.c_size_t
    lib.bt_ind_at.restype = C.POINTER(_Kind)
    lib.bt_ind_at.argtypes = [C.c_size_t]
    lib.bt_ind_find.restype = C.POINTER(_Kind)
    lib.bt_ind_find.argtypes = [C.c_char_p]
    lib.bt_ind_params.argtypes = [C.POINTER(_Kind), C.POINTER(C.c_double), C.c_size_t,
                                  C.POINTER(C.c_double), C.POINTER(_ErrBuf)]
    lib.bt_ind_array.argtypes = [C.POINTER(_Kind), C.POINTER(C.c_double), C.c_int, C.c_void_p,
                                 C.c_void_p, C.c_size_t, C.c_void_p, C.POINTER(_ErrBuf)]
    _lib = lib
    return lib


def indicators() -> List[str]:
    """Names of every indicator kind in the C table."""
    lib = _load()
    return [lib.bt_ind_at(i).contents.name.decode() for i in range(lib.bt_ind_count())]


def indicator(kind: str, close=None, *params: float, open=None, high=None, low=None,
              volume=None, source: str = "close", y=None) -> Dict[str, np.ndarray]:
    """Runs indicator ``kind`` (e.g. "sma") over arrays, exactly as the engine does.

    Give ``close`` (and open/high/low/volume for kinds that read the whole bar, such as atr),
    the kind's parameters in order, and optionally ``source``. Returns {output name: array}
    with NaN before the indicator is ready. ``y``: the second series of two-series kinds."""
    lib = _load()
    k = lib.bt_ind_find(kind.encode())
    if not k:
        raise BacktestError(f"unknown indicator '{kind}'; known: {', '.join(indicators())}")
    kk = k.contents
    if close is None:
        raise BacktestError("indicator(kind, close, *params): give at least the close array")
    c = np.ascontiguousarray(close, dtype=float)
    n = c.shape[0]
    bars = np.zeros(n, dtype=_BAR)
    bars["close"] = c
    for name, arr in (("open", open), ("high", high), ("low", low), ("volume", volume)):
        bars[name] = c if arr is None and name != "volume" else (0.0 if arr is None else arr)
    if source not in _SOURCES:
        raise BacktestError(f"source '{source}' is not one of {', '.join(_SOURCES)}")
    given = (C.c_double * 4)(*[float(v) for v in params[:4]])
    p = (C.c_double * 4)()
    eb = _ErrBuf()
    if lib.bt_ind_params(k, given, len(params), p, C.byref(eb)) != 0:
        raise BacktestError(eb.msg.decode())
    out = np.empty(kk.nout * n, dtype=float)
    yy: Optional[np.ndarray] = None
    if y is not None:
        yy = np.ascontiguousarray(y, dtype=float)
    rc = lib.bt_ind_array(k, p, _SOURCES.index(source), bars.ctypes.data,
                          yy.ctypes.data if yy is not None else None, n, out.ctypes.data,
                          C.byref(eb))
    if rc != 0:
        raise BacktestError(eb.msg.decode())
    return {kk.outs[j].decode(): out[j * n:(j + 1) * n] for j in range(kk.nout)}
