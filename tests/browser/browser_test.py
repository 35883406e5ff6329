#!/usr/bin/python3
"""Loads every kind of report.html in headless Chromium (Debian's chromium),
with no network: no console error, every chart canvas drawn (the page checks
its own canvases with getImageData and writes a verdict into the DOM, read
with --dump-dom), the metrics table equal to metrics.json, and a screenshot
of each kind into the output folder. Kinds: a run, a 3-axis sweep, a 1-axis
sweep, a walk-forward sweep, an 8-symbol portfolio run; each page is rebuilt
by `bt report DIR` before it is loaded.

Exits 77 (ctest: skipped, never passed) when chromium is missing.
usage: browser_test.py --bin BUILD_DIR --out OUT_DIR
"""
import argparse
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--hide-scrollbars",
         "--proxy-server=127.0.0.1:9", "--enable-logging=stderr", "--v=0"]

BASE = """data: {store: bars.h5, symbols: [SYN000, SYN001, SYN002, SYN003]}
capital: 100000
execution: {commission_pct: 0.1, slippage_bps: 2}
sizing: {mode: percent_equity, value_pct: 95}
rank_by: sharpe
"""
KINDS = {
    "run": ("run", "strategy: sma_cross\nparams: {fast: 10, slow: 50}\n" + BASE),
    "sweep-3axes": ("sweep", "strategy: sma_cross\nparams: {fast: 10, slow: 50}\n" + BASE +
                    "sweep:\n  params.fast: [5, 10, 20]\n  params.slow: [40, 80, 120]\n"
                    "  execution.slippage_bps: [0, 5, 10]\n"),
    "sweep-1axis": ("sweep", "strategy: sma_cross\nparams: {fast: 10, slow: 50}\n" + BASE +
                    "sweep:\n  params.fast: [3, 5, 8, 10, 15, 20, 30]\n"),
    "walkforward": ("sweep", "strategy: sma_cross\nparams: {fast: 10, slow: 50}\n" + BASE +
                    "walk_forward: {train: 2y, test: 6m}\n"
                    "sweep:\n  params.fast: [5, 10, 20]\n  params.slow: [40, 80]\n"),
    "portfolio-8": ("run", "strategy: momentum_rotation\n"
                    "params: {lookback: 63, top_n: 3, absolute: 0}\n"
                    "data: {store: bars.h5, symbols: all}\ncapital: 100000\n"
                    "execution: {commission_pct: 0.1, slippage_bps: 2}\n"
                    "sizing: {mode: percent_equity, value_pct: 95, fractional: true}\n"
                    "risk: {rebalance: monthly}\n"),
}


class Dom(html.parser.HTMLParser):
    """The verdict <pre>, metrics rows (key, data-value, text) and outside URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.verdict = ""
        self.rows = []
        self.urls = []
        self._in = None
        self._key = None
        self._val = None
        self._text = ""
        self._metrics = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            if k in a and "://" in (a[k] or ""):
                self.urls.append(a[k])
        if tag == "pre" and a.get("id") == "bt-verdict":
            self._in = "verdict"
        if tag == "table" and a.get("id") == "bt-metrics":
            self._metrics = True
        if self._metrics and tag == "tr" and "data-key" in a:
            self._key = a["data-key"]
        if self._metrics and tag == "td" and "data-value" in a:
            self._in, self._val, self._text = "value", a["data-value"], ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._metrics = False
        if tag == "td" and self._in == "value":
            self.rows.append((self._key, self._val, self._text))
            self._in = None
        if tag == "pre" and self._in == "verdict":
            self._in = None

    def handle_data(self, data):
        if self._in == "verdict":
            self.verdict += data
        elif self._in == "value":
            self._text += data


def sh(args, cwd):
    r = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(args)} exited {r.returncode}:\n{r.stderr}")
    return r


def check_metrics(name: str, dom: Dom, folder: str) -> int:
    with open(os.path.join(folder, "metrics.json"), encoding="utf-8") as f:
        m = json.load(f)
    want = {k: v for k, v in m.items() if not isinstance(v, dict)}
    got = {k: (v, t) for k, v, t in dom.rows}
    if set(want) != set(got):
        raise SystemExit(f"FAIL {name}: metrics table keys {sorted(got)} != metrics.json {sorted(want)}")
    for k, v in want.items():
        val, text = got[k]
        if v is None:
            if val != "null":
                raise SystemExit(f"FAIL {name}: {k} is null in metrics.json, {val} on the page")
            continue
        if float(val) != float(v):  # the exact value behind the cell
            raise SystemExit(f"FAIL {name}: {k} = {val} on the page, {v!r} in metrics.json")
        if float(text) != float("%.6g" % v):  # what is shown: 6 significant digits
            raise SystemExit(f"FAIL {name}: {k} shows {text!r}, expected {'%.6g' % v}")
    return len(want)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        print(f"SKIPPED: {CHROMIUM} is missing (apt-get install chromium): the browser tests "
              "were not run and did not pass", flush=True)
        return 77
    bt = os.path.join(os.path.abspath(a.bin), "bt")
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bt_browser_")
    try:
        sh([bt, "data", "synth", "--out", "bars.h5", "--symbols", "8", "--bars", "1500",
            "--seed", "5"], work)
        for name, (cmd, yaml) in KINDS.items():
            cfg = os.path.join(work, name + ".yaml")
            with open(cfg, "w", encoding="utf-8") as f:
                f.write(yaml)
            folder = os.path.join(work, name)
            if cmd == "run":
                sh([bt, "run", cfg, "--out", folder], work)
            else:
                sh([bt, "sweep", cfg, "--out", folder, "--workers", "2"], work)
            os.remove(os.path.join(folder, "report.html"))
            sh([bt, "report", folder], work)  # the page under test is bt report's
            page = "file://" + os.path.join(folder, "report.html")
            prof = tempfile.mkdtemp(prefix="bt_chromium_", dir=work)
            r = subprocess.run([CHROMIUM, *FLAGS, "--user-data-dir=" + prof, "--dump-dom", page],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
            dom = Dom()
            dom.feed(r.stdout)
            if not dom.verdict:
                raise SystemExit(f"FAIL {name}: no verdict in the page (script did not finish)\n{r.stderr[-2000:]}")
            v = json.loads(dom.verdict)
            console = [l for l in r.stderr.splitlines() if "CONSOLE" in l and ("Uncaught" in l or "ERROR" in l)]
            if v["errors"] or console:
                raise SystemExit(f"FAIL {name}: console errors {v['errors']} {console}")
            if not v["chartjs"] or v["canvases"] < 3 or v["blank"]:
                raise SystemExit(f"FAIL {name}: chart.js {v['chartjs']}, {v['canvases']} canvases, blank: {v['blank']}")
            if dom.urls:
                raise SystemExit(f"FAIL {name}: outside URLs in the page: {dom.urls[:5]}")
            nm = check_metrics(name, dom, folder) if cmd == "run" else 0
            shot = os.path.join(out, f"report-{name}.png")
            subprocess.run([CHROMIUM, *FLAGS, "--user-data-dir=" + prof, "--window-size=1280,2600",
                            "--screenshot=" + shot, page], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
            if not os.path.getsize(shot):
                raise SystemExit(f"FAIL {name}: no screenshot")
            size = os.path.getsize(os.path.join(folder, "report.html"))
            print(f"ok {name}: {v['canvases']} charts drawn, no console error, "
                  f"{nm} metrics equal metrics.json, {size / 1e6:.2f} MB, screenshot {shot}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
