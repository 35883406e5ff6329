/* CurveZMQ between bt sweep and bt-worker (--keys): an admitted worker runs
 * the sweep to the same report as a plain run; a worker whose key is not
 * admitted, a worker pinned to another coordinator key, and a keyed worker
 * pointed at a coordinator without keys (a fake) never get the sweep and
 * give up after --connect-timeout with a reason; a bind other machines can
 * reach is refused without keys unless --insecure. */
#include "sweep_fixture.h"

static sfx_t f;

static void s_setup(void)
{
    sfx_setup(&f, "trust-curve");
    cr_assert_eq(sfx_sweep_local(&f, "ref", 1), 0, "reference sweep failed");
}
static void s_teardown(void)
{
    bt_proc_kill_all();
}

TestSuite(trust_curve, .init = s_setup, .fini = s_teardown, .timeout = 150);

/* bt keygen DIR [--name NAME] */
static void s_keygen(const char *dir, const char *name)
{
    char log[400];
    snprintf(log, sizeof log, "%s/keygen.log", f.dir);
    char *argv[] = {f.bt, "keygen", (char *)dir, "--name", (char *)name, NULL};
    cr_assert_eq(bt_proc_run(argv, log, 30000), 0, "bt keygen %s failed", dir);
}

static void s_copy(const char *from, const char *to)
{
    size_t len = 0;
    char *text = bt_proc_slurp(from, &len);
    cr_assert(text, "cannot read %s", from);
    FILE *o = fopen(to, "w");
    cr_assert(o);
    cr_assert_eq(fwrite(text, 1, len, o), len);
    fclose(o);
    free(text);
}

/* A worker with --keys dir and a short --connect-timeout; returns its pid. */
static pid_t s_worker(const char *ep, const char *name, const char *keys)
{
    char log[340];
    snprintf(log, sizeof log, "%s/%s.log", f.dir, name);
    char *argv[] = {f.worker, "--connect",   (char *)ep, "--threads",  "1",
                    "--name", (char *)name,  "--keys",   (char *)keys, "--connect-timeout",
                    "3",      "--idle-exit", "60",       NULL};
    pid_t pid = bt_proc_spawn(argv, log);
    cr_assert(pid > 0);
    return pid;
}

Test(trust_curve, only_admitted_workers_run_and_impostors_give_up)
{
    char ck[340], wk[340], bad[340], other[340], p1[400], p2[400];
    snprintf(ck, sizeof ck, "%s/ckeys", f.dir);       /* coordinator's folder */
    snprintf(wk, sizeof wk, "%s/wkeys", f.dir);       /* admitted worker */
    snprintf(bad, sizeof bad, "%s/bkeys", f.dir);     /* worker not in allow/ */
    snprintf(other, sizeof other, "%s/okeys", f.dir); /* pinned to another coordinator */
    s_keygen(ck, "coordinator");
    s_keygen(wk, "worker");
    s_keygen(bad, "worker");
    s_keygen(other, "worker");
    s_keygen(other, "coordinator"); /* a coordinator key nobody runs */
    snprintf(p1, sizeof p1, "%s/worker.key", wk);
    snprintf(p2, sizeof p2, "%s/allow/w1.key", ck);
    s_copy(p1, p2);
    snprintf(p1, sizeof p1, "%s/coordinator.key", ck);
    snprintf(p2, sizeof p2, "%s/coordinator.key", wk);
    s_copy(p1, p2);
    snprintf(p2, sizeof p2, "%s/coordinator.key", bad);
    s_copy(p1, p2);

    char ep[256];
    char odir[320], log[340];
    sfx_path(odir, sizeof odir, &f, "keyed");
    snprintf(log, sizeof log, "%s.log", odir);
    char *argv[] = {f.bt,
                    "sweep",
                    f.cfg,
                    "--out",
                    odir,
                    "--workers",
                    "0",
                    "--bind",
                    "tcp://127.0.0.1:*",
                    "--keys",
                    ck,
                    "--lease-ms",
                    "1000",
                    "--heartbeat-ms",
                    "100",
                    NULL};
    pid_t coord = bt_proc_spawn(argv, log);
    cr_assert(coord > 0);
    cr_assert(bt_proc_wait_text(log, "listening on ", 30000, ep, sizeof ep), "no endpoint");

    pid_t intruder = s_worker(ep, "intruder", bad);
    pid_t pinned = s_worker(ep, "pinned", other);
    cr_assert_eq(bt_proc_wait(intruder, 30000), 1, "a non-admitted worker did not give up");
    cr_assert_eq(bt_proc_wait(pinned, 30000), 1, "a worker pinned to another key did not give up");
    cr_assert(sfx_log_has(&f, "intruder", "no coordinator welcomed this worker"));
    cr_assert(sfx_log_has(&f, "pinned", "no coordinator welcomed this worker"));
    cr_assert(!sfx_log_has(&f, "intruder", "welcomed to sweep"));
    cr_assert(!sfx_log_has(&f, "pinned", "dataset cache"));

    s_worker(ep, "w1", wk);
    cr_assert_eq(bt_proc_wait(coord, 90000), 0, "keyed coordinator failed (see keyed.log)");
    sfx_assert_same_report(&f, "ref", "keyed");
    cr_assert(sfx_log_has(&f, "keyed", "CurveZMQ on: 1 worker key(s) allowed"));
    cr_assert(!sfx_log_has(&f, "keyed", "intruder"), "an impostor reached the coordinator");
    /* ... but the coordinator says, as an error, that a worker was refused and from where */
    cr_assert(sfx_log_has(&f, "keyed", "error"), "the refusal is logged as an error");
    cr_assert(sfx_log_has(&f, "keyed", "worker at 127.0.0.1:"),
              "the refused worker's address is named (see keyed.log)");
    cr_assert(sfx_log_has(&f, "keyed", "is not in the allow-list"));

    /* A keyed worker pointed at a coordinator without keys (a fake). */
    sfx_path(odir, sizeof odir, &f, "fake");
    snprintf(log, sizeof log, "%s.log", odir);
    char *fargv[] = {f.bt,
                     "sweep",
                     f.cfg,
                     "--out",
                     odir,
                     "--workers",
                     "0",
                     "--bind",
                     "tcp://127.0.0.1:*",
                     "--idle-timeout",
                     "30",
                     NULL};
    pid_t fake = bt_proc_spawn(fargv, log);
    cr_assert(fake > 0);
    cr_assert(bt_proc_wait_text(log, "listening on ", 30000, ep, sizeof ep), "no endpoint");
    pid_t fooled = s_worker(ep, "fooled", wk);
    cr_assert_eq(bt_proc_wait(fooled, 30000), 1, "a keyed worker talked to a keyless coordinator");
    cr_assert(sfx_log_has(&f, "fooled", "with --keys"));
    cr_assert(!sfx_log_has(&f, "fooled", "dataset cache"));
    cr_assert(!sfx_log_has(&f, "fake", "worker fooled"), "the fake coordinator saw the worker");
    kill(fake, SIGTERM);
    bt_proc_wait(fake, 30000);
}

Test(trust_curve, reachable_bind_needs_keys_or_insecure)
{
    char odir[320], log[340];
    sfx_path(odir, sizeof odir, &f, "open");
    snprintf(log, sizeof log, "%s.log", odir);
    char *argv[] = {f.bt,        "sweep", f.cfg,    "--out",           odir,
                    "--workers", "0",     "--bind", "tcp://0.0.0.0:*", NULL};
    cr_assert_neq(bt_proc_run(argv, log, 30000), 0);
    cr_assert(sfx_log_has(&f, "open", "refusing to bind tcp://0.0.0.0:* without keys"));
    /* --insecure: it binds (and, with a worker on loopback, runs). */
    sfx_path(odir, sizeof odir, &f, "insecure");
    snprintf(log, sizeof log, "%s.log", odir);
    char *iargv[] = {f.bt,     "sweep",           f.cfg,        "--out", odir, "--workers", "1",
                     "--bind", "tcp://0.0.0.0:*", "--insecure", NULL};
    cr_assert_eq(bt_proc_run(iargv, log, 90000), 0, "see insecure.log");
    sfx_assert_same_report(&f, "ref", "insecure");
}
