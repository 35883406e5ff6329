"""bt strategy check / bt strategy new, and the installed headers + pkg-config file."""
import os
import shutil
import subprocess
import unittest

from engine_util import BIN, SRC, TmpCase, bt, write

GLOBAL_STATE_C = r"""
/* keeps part of its decision in a global that every init moves: the bug
 * `bt strategy check` exists to catch (results change between runs and
 * with the thread count) */
#include "bt_strategy.h"
static int s_inits;
static const bt_param_spec_t s_params[1] = {{"k", BT_PARAM_INT, 1, 1, 10, "unused"}};
typedef struct { double prev; int n; } s_state_t;
static size_t s_size(const double *p, size_t nsym) { (void)p; (void)nsym; return sizeof(s_state_t); }
static bt_err_t s_init(void *st, const double *p, size_t nsym, bt_errbuf_t *eb)
{ (void)st; (void)p; (void)nsym; (void)eb; s_inits++; return BT_OK; }
static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    s_state_t *st = state;
    if (!ctx->has_bar[0]) return;
    if (++st->n % (2 + s_inits % 7) == 0)
        bt_signal(ctx, 0, ctx->bar[0].close > st->prev ? 1.0 : 0.0);
    st->prev = ctx->bar[0].close;
}
static const bt_strategy_t s_s = {.name = "global_state", .summary = "state in a global (bad)",
    .kind = BT_STRAT_SINGLE, .params = s_params, .nparams = 1, .state_size = s_size,
    .init = s_init, .on_bar = s_on_bar, .on_fill = NULL};
int bt_strategy_abi(void);
const bt_strategy_t *bt_strategy_entry(void);
int bt_strategy_abi(void) { return BT_STRATEGY_ABI; }
const bt_strategy_t *bt_strategy_entry(void) { return &s_s; }
"""


@unittest.skipUnless(shutil.which("cc") and shutil.which("make") and shutil.which("pkg-config"),
                     "needs cc, make and pkg-config")
class StrategyCli(TmpCase):
    def test_check_passes_a_clean_strategy(self):
        rc, out, err = bt("strategy", "check", os.path.join(BIN, "strategies", "my_strategy.so"),
                          "streak_reversal", check=False)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("same: run 1 vs run 2", out)
        self.assertIn("same: 1 thread vs 4 threads", out)

    def test_check_fails_loudly_on_global_state(self):
        src = write(os.path.join(self.tmp, "global_state.c"), GLOBAL_STATE_C)
        so = os.path.join(self.tmp, "global_state.so")
        subprocess.run(["cc", "-std=c17", "-O2", "-shared", "-fPIC",
                        "-I", os.path.join(SRC, "common", "engine"),
                        "-I", os.path.join(SRC, "common", "base"), "-o", so, src], check=True)
        rc, out, err = bt("strategy", "check", so, "global_state", check=False)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("DIFFERENT: run 1 vs run 2", out)
        self.assertIn("FAILED: the same backtest gave different results", out)

    def test_new_builds_out_of_tree_against_installed_headers(self):
        prefix = os.path.join(self.tmp, "prefix")
        subprocess.run(["cmake", "--install", BIN, "--prefix", prefix], check=True,
                       capture_output=True)
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
        cflags = subprocess.run(["pkg-config", "--cflags", "backtester"], env=env, check=True,
                                capture_output=True, text=True).stdout
        self.assertIn(prefix, cflags)  # the temp prefix, never the source tree
        work = os.path.join(self.tmp, "work")
        bt("strategy", "new", "above_sma", "--dir", work)
        folder = os.path.join(work, "above_sma")
        subprocess.run(["make", "-s", "-C", folder,
                        "CFLAGS=-O2 -Wall -Wextra -Werror -Wmissing-prototypes"],
                       env=env, check=True)
        rc, out, err = bt("strategy", "check", os.path.join(folder, "above_sma.so"), "above_sma",
                          check=False)
        self.assertEqual(rc, 0, out + err)
        # writing over an existing strategy is refused
        rc, _, err = bt("strategy", "new", "above_sma", "--dir", work, check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("may exist already", err)

    def test_help_of_each_subcommand(self):
        for sub in ("check", "new"):
            rc, out, err = bt("strategy", sub, "--help", check=False)
            self.assertEqual(rc, 0, err)
            self.assertIn("usage: bt strategy check", out)
            self.assertIn("bt strategy new NAME", out)

    def test_python_pairs_strategy_checks_clean_on_two_symbols(self):
        from engine_util import EXAMPLES, shared_store
        store = shared_store(self, self.tmp)
        rc, out, err = bt("strategy", "check", os.path.join(EXAMPLES, "pairs_trading.py"),
                          "PairsTrading", "--data", store, "--set", "data.symbols=[ORCL, NVDA]",
                          check=False)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("OK: identical results", out)


CROSS_PY = """
from backtester import Strategy
class Cross(Strategy):
    \"\"\"close above its mean: long\"\"\"
    params = {"n": (10, 2, 100, "window")}
    def init(self):
        self.m = self.indicator("sma", self.p.n)
    def on_bar(self, ctx):
        if ctx.has_bar and self.m.ready:
            ctx.signal(1.0 if ctx.close > self.m.value else 0.0)
"""


class PythonModule(TmpCase):
    """The embedded Python is bt_python.so, opened only for a Python strategy (bt_pymod.h)."""

    def _config(self):
        store = os.path.join(self.tmp, "d.h5")
        bt("data", "synth", "--out", store, "--symbols", "1", "--bars", "500", "--seed", "4")
        write(os.path.join(self.tmp, "cross.py"), CROSS_PY)
        return write(os.path.join(self.tmp, "c.yaml"),
                     f"strategy: Cross\nstrategy_python: cross.py\n"
                     f"data: {{store: {store}, symbols: all}}\n")

    def _run(self, prog, cfg):
        """prog run cfg (from the temp folder): the completed process."""
        return subprocess.run([prog, "run", cfg, "--out", os.path.join(self.tmp, "o")],
                              cwd=self.tmp, capture_output=True, text=True, timeout=120)

    def test_programs_do_not_link_libpython(self):
        for prog in ("bt", "bt-worker"):
            out = subprocess.run(["ldd", os.path.join(BIN, prog)], check=True,
                                 capture_output=True, text=True).stdout
            self.assertNotIn("libpython", out, prog)
        out = subprocess.run(["ldd", os.path.join(BIN, "bt_python.so")], check=True,
                             capture_output=True, text=True).stdout
        self.assertIn("libpython", out)

    def test_without_the_module_a_python_strategy_is_a_clear_error(self):
        cfg = self._config()
        alone = os.path.join(self.tmp, "alone")
        os.makedirs(alone)
        shutil.copy(os.path.join(BIN, "bt"), alone)
        r = self._run(os.path.join(alone, "bt"), cfg)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("Python strategies need bt_python.so", r.stderr)
        self.assertIn(os.path.join(alone, "bt_python.so"), r.stderr)
        # a library of that name that is not this build's module: refused, not called
        shutil.copy(os.path.join(BIN, "strategies", "my_strategy.so"),
                    os.path.join(alone, "bt_python.so"))
        r = self._run(os.path.join(alone, "bt"), cfg)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("is not this build's Python module (no bt_pymod_api)", r.stderr)
        # with the module beside it, the same bt runs the strategy
        shutil.copy(os.path.join(BIN, "bt_python.so"), alone)
        r = self._run(os.path.join(alone, "bt"), cfg)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("sharpe", r.stdout)

    def test_a_python_sweep_runs_a_worker_per_core(self):
        """One interpreter a worker, on one thread: the default layout is a worker per core
        (a C strategy gets one worker with a thread per core)."""
        cfg = self._config()
        write(cfg, open(cfg).read() + "sweep:\n  params.n: [5, 10, 20]\n")
        r = subprocess.run([os.path.join(BIN, "bt"), "sweep", cfg, "--out",
                            os.path.join(self.tmp, "s")], cwd=self.tmp, capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        cores = len(os.sched_getaffinity(0))
        self.assertIn(f"started {cores} local worker(s) (1 thread(s) each)", r.stderr)

    def test_an_installed_bt_finds_the_module(self):
        prefix = os.path.join(self.tmp, "prefix")
        subprocess.run(["cmake", "--install", BIN, "--prefix", prefix], check=True,
                       capture_output=True)
        cfg = self._config()
        r = self._run(os.path.join(prefix, "bin", "bt"), cfg)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("sharpe", r.stdout)


if __name__ == "__main__":
    unittest.main()
