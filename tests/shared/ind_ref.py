#!/usr/bin/python3
"""Reference values for every indicator kind, written separately from the C
code, from the textbook definitions (windows recomputed from scratch at each
bar with numpy; recursions written as plain loops).

Usage: /usr/bin/python3 ind_ref.py DATA_DIR OUT_FILE

Reads ORCL daily bars (orcl-1995-2014.txt) and NVDA closes for the pair
kinds (aligned on the dates both have) and writes OUT_FILE:
    bars N                      then N lines: time_ns open high low close volume
    y N v0 v1 ...               NVDA closes on the same dates
    kind NAME SOURCE NP p1 ...  then one line per output: out NAME v0 v1 ...
Numbers are printed with repr() (shortest round-trip), NaN as "nan".
"""
import datetime as dt
import sys

import numpy as np

NAN = float("nan")


def load(path: str) -> list:
    rows = []
    with open(path) as f:
        next(f)
        for line in f:
            c = line.strip().split(",")
            rows.append((c[0], [float(v) for v in c[1:5]], float(c[6])))
    return rows


def ns(date: str) -> int:
    d = dt.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    return int(d.timestamp()) * 1_000_000_000


def first_valid(x: np.ndarray) -> int:
    idx = np.flatnonzero(~np.isnan(x))
    return idx[0] if len(idx) else len(x)


def sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), NAN)
    for t in range(n - 1, len(x)):
        w = x[t - n + 1:t + 1]
        if not np.isnan(w).any():
            out[t] = w.mean()
    return out


def ema(x: np.ndarray, n: int) -> np.ndarray:
    """Seeded with the mean of the first n valid values; alpha 2/(n+1)."""
    out = np.full(len(x), NAN)
    s = first_valid(x)
    if s + n > len(x):
        return out
    v = x[s:s + n].mean()
    out[s + n - 1] = v
    a = 2.0 / (n + 1)
    for t in range(s + n, len(x)):
        v = a * x[t] + (1 - a) * v
        out[t] = v
    return out


def wilder(x: np.ndarray, n: int) -> np.ndarray:
    """Mean of the first n valid values, then (prev*(n-1) + x)/n."""
    out = np.full(len(x), NAN)
    s = first_valid(x)
    if s + n > len(x):
        return out
    v = x[s:s + n].mean()
    out[s + n - 1] = v
    for t in range(s + n, len(x)):
        v = (v * (n - 1) + x[t]) / n
        out[t] = v
    return out


def window(x: np.ndarray, n: int, f, lag: int = 0) -> np.ndarray:
    """f over x[t-n+1-lag .. t-lag] at each t where that exists."""
    out = np.full(len(x), NAN)
    for t in range(n - 1 + lag, len(x)):
        out[t] = f(x[t - n + 1 - lag:t + 1 - lag])
    return out


def rsi(x: np.ndarray, n: int) -> np.ndarray:
    d = np.diff(x)
    g, l = np.where(d > 0, d, 0.0), np.where(d < 0, -d, 0.0)
    ag, al = wilder(g, n), wilder(l, n)
    out = np.full(len(x), NAN)
    for i in range(len(d)):
        if np.isnan(ag[i]):
            continue
        if al[i] == 0:
            out[i + 1] = 50.0 if ag[i] == 0 else 100.0
        else:
            out[i + 1] = 100 - 100 / (1 + ag[i] / al[i])
    return out


def true_range(h: np.ndarray, l: np.ndarray, c: np.ndarray) -> np.ndarray:
    tr = np.full(len(c), NAN)
    tr[1:] = np.maximum(h[1:], c[:-1]) - np.minimum(l[1:], c[:-1])
    return tr


def adx(h: np.ndarray, l: np.ndarray, c: np.ndarray, n: int) -> list:
    up = np.full(len(c), NAN)
    dn = np.full(len(c), NAN)
    up[1:] = h[1:] - h[:-1]
    dn[1:] = l[:-1] - l[1:]
    pdm = np.where((up > dn) & (up > 0), up, 0.0)
    mdm = np.where((dn > up) & (dn > 0), dn, 0.0)
    pdm[0] = mdm[0] = NAN
    atr = wilder(true_range(h, l, c), n)
    pdi = 100 * wilder(pdm, n) / atr
    mdi = 100 * wilder(mdm, n) / atr
    s = pdi + mdi
    dx = np.where(s > 0, 100 * np.abs(pdi - mdi) / np.where(s > 0, s, 1), 0.0)
    dx[np.isnan(pdi)] = NAN
    return [wilder(dx, n), pdi, mdi]


def kama(x: np.ndarray, n: int, fast: int, slow: int) -> np.ndarray:
    out = np.full(len(x), NAN)
    fa, sa = 2 / (fast + 1), 2 / (slow + 1)
    k = x[n - 1]
    for t in range(n, len(x)):
        vol = np.abs(np.diff(x[t - n:t + 1])).sum()
        er = abs(x[t] - x[t - n]) / vol if vol != 0 else 0.0
        sc = (er * (fa - sa) + sa) ** 2
        k = k + sc * (x[t] - k)
        out[t] = k
    return out


def psar(h: np.ndarray, l: np.ndarray, af0: float, step: float, afmax: float) -> list:
    n = len(h)
    sar, trend = np.full(n, NAN), np.full(n, NAN)
    up = h[1] - h[0] >= l[0] - l[1]
    cur = l[0] if up else h[0]
    ep = max(h[0], h[1]) if up else min(l[0], l[1])
    af = af0
    for t in range(1, n):
        if t > 1:
            nxt = sar[t - 1]
            if (up and l[t] <= nxt) or (not up and h[t] >= nxt):
                up = not up
                cur, ep, af = ep, (h[t] if up else l[t]), af0
            else:
                cur = nxt
                if up and h[t] > ep:
                    ep, af = h[t], min(af + step, afmax)
                elif not up and l[t] < ep:
                    ep, af = l[t], min(af + step, afmax)
        s = cur + af * (ep - cur)
        s = min(s, l[t], l[t - 1]) if up else max(s, h[t], h[t - 1])
        sar[t], trend[t] = s, (1.0 if up else -1.0)
    return [sar, trend]


def stochastic(h: np.ndarray, l: np.ndarray, c: np.ndarray, n: int, smooth: int,
               d: int) -> list:
    hh, ll = window(h, n, np.max), window(l, n, np.min)
    raw = np.where(hh > ll, 100 * (c - ll) / np.where(hh > ll, hh - ll, 1), 50.0)
    raw[np.isnan(hh)] = NAN
    k = sma(raw, smooth)
    return [k, sma(k, d)]


def williams(h: np.ndarray, l: np.ndarray, c: np.ndarray, n: int) -> np.ndarray:
    hh, ll = window(h, n, np.max), window(l, n, np.min)
    out = np.full(len(c), NAN)
    for t in range(n - 1, len(c)):
        out[t] = -100 * (hh[t] - c[t]) / (hh[t] - ll[t]) if hh[t] > ll[t] else -50.0
    return out


def aroon(h: np.ndarray, l: np.ndarray, n: int) -> list:
    def since(w, f):  # bars back to the most recent extreme
        return f(w[::-1])
    su = window(h, n + 1, lambda w: since(w, np.argmax))
    sd = window(l, n + 1, lambda w: since(w, np.argmin))
    u, d = 100 * (n - su) / n, 100 * (n - sd) / n
    return [u, d, u - d]


def ichimoku(h: np.ndarray, l: np.ndarray, c: np.ndarray, a: int, b: int, s: int,
             shift: int) -> list:
    def mid(w):
        return (window(h, w, np.max) + window(l, w, np.min)) / 2
    ten, kij = mid(a), mid(b)
    span_a, span_b = (ten + kij) / 2, mid(s)
    sa, sb = np.full(len(c), NAN), np.full(len(c), NAN)
    sa[shift:], sb[shift:] = span_a[:-shift], span_b[:-shift]
    return [ten, kij, sa, sb, c.copy()]


def obv(c: np.ndarray, v: np.ndarray) -> np.ndarray:
    out = np.zeros(len(c))
    for t in range(1, len(c)):
        out[t] = out[t - 1] + (v[t] if c[t] > c[t - 1] else -v[t] if c[t] < c[t - 1] else 0)
    return out


def vwap(tm: np.ndarray, tp: np.ndarray, v: np.ndarray, weekly: bool) -> np.ndarray:
    days = tm // 86_400_000_000_000
    key = (days + 3) // 7 if weekly else days
    out = np.full(len(tp), NAN)
    start = 0
    for t in range(len(tp)):
        if key[t] != key[start]:
            start = t
        vv = v[start:t + 1].sum()
        out[t] = (tp[start:t + 1] * v[start:t + 1]).sum() / vv if vv > 0 else tp[start:t + 1].mean()
    return out


def mfi(tp: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(tp), NAN)
    flow = tp * v
    for t in range(n, len(tp)):
        pos = sum(flow[i] for i in range(t - n + 1, t + 1) if tp[i] > tp[i - 1])
        neg = sum(flow[i] for i in range(t - n + 1, t + 1) if tp[i] < tp[i - 1])
        out[t] = 50.0 if pos + neg == 0 else 100.0 if neg == 0 else 100 - 100 / (1 + pos / neg)
    return out


def cci(tp: np.ndarray, n: int, k: float) -> np.ndarray:
    def f(w):
        md = np.abs(w - w.mean()).mean()
        return (w[-1] - w.mean()) / (k * md) if md > 0 else 0.0
    return window(tp, n, f)


def corr(x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), NAN)
    for t in range(n - 1, len(x)):
        a, b = x[t - n + 1:t + 1], y[t - n + 1:t + 1]
        out[t] = np.corrcoef(a, b)[0, 1] if a.std() > 0 and b.std() > 0 else 0.0
    return out


def ols(x: np.ndarray, y: np.ndarray, n: int) -> list:
    beta, alpha, resid = (np.full(len(x), NAN) for _ in range(3))
    for t in range(n - 1, len(x)):
        a, b = x[t - n + 1:t + 1], y[t - n + 1:t + 1]
        va = ((a - a.mean()) ** 2).sum()
        beta[t] = ((a - a.mean()) * (b - b.mean())).sum() / va if va > 0 else 0.0
        alpha[t] = b.mean() - beta[t] * a.mean()
        resid[t] = y[t] - alpha[t] - beta[t] * x[t]
    return [beta, alpha, resid]


def main() -> None:
    data, out_path = sys.argv[1], sys.argv[2]
    orcl = load(f"{data}/orcl-1995-2014.txt")
    nvda = {d: p[3] for d, p, _ in load(f"{data}/nvda-1999-2014.txt")}
    orcl = [r for r in orcl if r[0] in nvda]  # the dates both have
    tm = np.array([ns(r[0]) for r in orcl], dtype=np.int64)
    o, h, l, c = (np.array([r[1][i] for r in orcl]) for i in range(4))
    v = np.array([r[2] for r in orcl])
    y = np.array([nvda[r[0]] for r in orcl])
    tp = (h + l + c) / 3
    e = ema
    cases = [
        ("sma", "close", [50], [sma(c, 50)]),
        ("sma", "typical", [7], [sma(tp, 7)]),
        ("ema", "close", [20], [e(c, 20)]),
        ("rsi", "close", [14], [rsi(c, 14)]),
        ("stddev", "close", [20], [window(c, 20, np.std), sma(c, 20)]),
        ("bollinger", "close", [20, 2.5],
         [sma(c, 20), sma(c, 20) + 2.5 * window(c, 20, np.std),
          sma(c, 20) - 2.5 * window(c, 20, np.std)]),
        ("highest", "high", [20], [window(h, 20, np.max)]),
        ("lowest", "low", [20], [window(l, 20, np.min)]),
        ("roc", "close", [10], [window(c, 11, lambda w: w[-1] / w[0] - 1)]),
        ("wma", "close", [10],
         [window(c, 10, lambda w: np.dot(w, np.arange(1, 11)) / 55)]),
        ("dema", "close", [20], [2 * e(c, 20) - e(e(c, 20), 20)]),
        ("tema", "close", [20],
         [3 * e(c, 20) - 3 * e(e(c, 20), 20) + e(e(e(c, 20), 20), 20)]),
        ("kama", "close", [10, 2, 30], [kama(c, 10, 2, 30)]),
        ("macd", "close", [12, 26, 9], None),
        ("ppo", "close", [12, 26, 9], None),
        ("trix", "close", [15], None),
        ("momentum", "close", [10], [window(c, 11, lambda w: w[-1] - w[0])]),
        ("zscore", "close", [20],
         [window(c, 20, lambda w: (w[-1] - w.mean()) / w.std() if w.std() > 0 else 0.0)]),
        ("true_range", "close", [], [true_range(h, l, c)]),
        ("atr", "close", [14], [wilder(true_range(h, l, c), 14)]),
        ("adx", "close", [14], adx(h, l, c, 14)),
        ("keltner", "close", [20, 2, 10], None),
        ("donchian", "close", [20],
         [window(h, 20, np.max, 1), (window(h, 20, np.max, 1) + window(l, 20, np.min, 1)) / 2,
          window(l, 20, np.min, 1)]),
        ("psar", "close", [0.02, 0.02, 0.2], psar(h, l, 0.02, 0.02, 0.2)),
        ("stochastic", "close", [14, 3, 3], stochastic(h, l, c, 14, 3, 3)),
        ("stochastic", "close", [5, 1, 3], stochastic(h, l, c, 5, 1, 3)),
        ("williams_r", "close", [14], [williams(h, l, c, 14)]),
        ("aroon", "close", [25], aroon(h, l, 25)),
        ("ichimoku", "close", [9, 26, 52, 26], ichimoku(h, l, c, 9, 26, 52, 26)),
        ("obv", "close", [], [obv(c, v)]),
        ("vwap", "close", [0], [vwap(tm, tp, v, False)]),
        ("vwap", "close", [1], [vwap(tm, tp, v, True)]),
        ("mfi", "close", [14], [mfi(tp, v, 14)]),
        ("cci", "close", [20, 0.015], [cci(tp, 20, 0.015)]),
        ("correlation", "close", [20], [corr(c, y, 20)]),
        ("beta", "close", [60], ols(c, y, 60)),
    ]
    m = e(c, 12) - e(c, 26)
    p = 100 * (e(c, 12) - e(c, 26)) / e(c, 26)
    e3 = e(e(e(c, 15), 15), 15)
    trix = np.full(len(c), NAN)
    trix[1:] = 100 * (e3[1:] / e3[:-1] - 1)
    atr10 = wilder(true_range(h, l, c), 10)
    mid = e(c, 20)
    kel = [np.where(np.isnan(atr10), NAN, mid), mid + 2 * atr10, mid - 2 * atr10]
    fill = {"macd": [m, e(m, 9), m - e(m, 9)], "ppo": [p, e(p, 9), p - e(p, 9)],
            "trix": [trix], "keltner": kel}
    with open(out_path, "w") as f:
        f.write(f"bars {len(c)}\n")
        for t in range(len(c)):
            f.write(f"{tm[t]} {o[t]!r} {h[t]!r} {l[t]!r} {c[t]!r} {v[t]!r}\n")
        f.write(f"y {len(y)} " + " ".join(repr(float(a)) for a in y) + "\n")
        for name, src, params, outs in cases:
            outs = outs if outs is not None else fill[name]
            f.write(f"kind {name} {src} {len(params)} " + " ".join(map(repr, params)) + "\n")
            for j, arr in enumerate(outs):
                f.write(f"out {j} " + " ".join(repr(float(a)) for a in arr) + "\n")


if __name__ == "__main__":
    main()
