/* The "continue with:" line of an interrupted sweep, pasted into a shell as
 * it is, continues the same sweep the same way: a plain and a walk-forward
 * sweep with --set, --bind and --workers 0 (plus the lease and heartbeat
 * options), interrupted by SIGINT, resumed by running the printed command,
 * give the report of the same sweep run straight through. Real bt and
 * bt-worker processes on 127.0.0.1, OS-chosen ports. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_journal.h"
#include "sweep_fixture.h"

static sfx_t f;
static char s_wf_cfg[400];

static void s_setup(void)
{
    sfx_setup(&f, "resume");
    /* The fixture's grid over 3 walk-forward windows (200 bars train, 100 test). */
    snprintf(s_wf_cfg, sizeof s_wf_cfg, "%s/wf.yaml", f.dir);
    char *base = bt_proc_slurp(f.cfg, NULL);
    cr_assert(base);
    FILE *c = fopen(s_wf_cfg, "w");
    cr_assert(c);
    fprintf(c, "%swalk_forward:\n  train: 200b\n  test: 100b\n", base);
    fclose(c);
    free(base);
    /* The pasted command finds bt on PATH, as a user's shell would. */
    const char *path = getenv("PATH");
    size_t n = strlen(BT_BIN_DIR) + (path ? strlen(path) : 0) + 2;
    char *np = malloc(n);
    cr_assert(np);
    snprintf(np, n, "%s:%s", BT_BIN_DIR, path ? path : "");
    setenv("PATH", np, 1);
    free(np);
}

static void s_teardown(void)
{
    bt_proc_kill_all();
}

TestSuite(sweep_resume, .init = s_setup, .fini = s_teardown, .timeout = 240);

/* Text after "continue with: " in log, up to the end of that line (malloc'd). */
static char *s_hint(const char *log)
{
    char *text = bt_proc_slurp(log, NULL);
    cr_assert(text);
    char *hit = strstr(text, "continue with: ");
    cr_assert(hit, "no 'continue with:' line in %s", log);
    hit += strlen("continue with: ");
    size_t n = strcspn(hit, "\n");
    char *line = malloc(n + 1);
    cr_assert(line);
    memcpy(line, hit, n);
    line[n] = '\0';
    free(text);
    return line;
}

/* Waits for "listening on EP" in log past byte `from`; copies EP. */
static void s_endpoint(const char *log, size_t from, char *ep, size_t cap)
{
    cr_assert(bt_proc_wait_text(log, "listening on ", 30000, NULL, 0), "no endpoint in %s", log);
    char *text = bt_proc_slurp(log, NULL);
    char *hit = text ? strstr(text + from, "listening on ") : NULL;
    cr_assert(hit);
    hit += strlen("listening on ");
    size_t n = strcspn(hit, "\r\n");
    cr_assert(n < cap);
    memcpy(ep, hit, n);
    ep[n] = '\0';
    free(text);
}

static void s_same(const char *a, const char *b, const char *file)
{
    char pa[400], pb[400];
    snprintf(pa, sizeof pa, "%s/%s/%s", f.dir, a, file);
    snprintf(pb, sizeof pb, "%s/%s/%s", f.dir, b, file);
    cr_assert(bt_proc_same_file(pa, pb), "%s and %s differ", pa, pb);
}

/* Runs cfg with the overrides straight through on one local worker into ref;
 * then interrupts the same sweep on a remote-only coordinator, pastes its
 * hint into sh, and compares the reports. */
static void s_interrupt_and_paste(const char *cfg, bool wf)
{
    char ref[320], out[320], log[340], log2[340];
    sfx_path(ref, sizeof ref, &f, "ref");
    sfx_path(out, sizeof out, &f, "cut");
    snprintf(log, sizeof log, "%s.log", out);
    snprintf(log2, sizeof log2, "%s-resumed.log", out);
    char reflog[340];
    snprintf(reflog, sizeof reflog, "%s.log", ref);
    char *straight[] = {f.bt,    "sweep", (char *)cfg, "--set", "execution.commission_pct=0.2",
                        "--out", ref,     "--workers", "1",     NULL};
    cr_assert_eq(bt_proc_run(straight, reflog, 120000), 0, "reference sweep failed (%s)", reflog);

    char *argv[] = {f.bt,
                    "sweep",
                    (char *)cfg,
                    "--set",
                    "execution.commission_pct=0.2",
                    "--out",
                    out,
                    "--workers",
                    "0",
                    "--bind",
                    "tcp://127.0.0.1:*",
                    "--lease-ms",
                    "1000",
                    "--heartbeat-ms",
                    "100",
                    NULL};
    pid_t coord = bt_proc_spawn(argv, log);
    cr_assert(coord > 0);
    char ep[256];
    s_endpoint(log, 0, ep, sizeof ep);
    sfx_start_worker(&f, ep, "slow", 20);
    sfx_wait_progress(&f, "cut", 1);
    cr_assert_eq(kill(coord, SIGINT), 0);
    cr_assert_eq(bt_proc_wait(coord, 30000), 1, "an interrupted sweep exits 1 (see %s)", log);

    char *hint = s_hint(log);
    const char *must[] = {"bt sweep ",
                          " --set execution.commission_pct=0.2",
                          " --bind 'tcp://127.0.0.1:*'",
                          " --workers 0",
                          " --lease-ms 1000",
                          " --heartbeat-ms 100",
                          " --resume "};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        cr_assert(strstr(hint, must[i]), "the hint lacks '%s': %s", must[i], hint);

    /* Pasted into a shell as it is: remote workers only, so it waits for one. */
    char *sh[] = {"/bin/sh", "-c", hint, NULL};
    pid_t again = bt_proc_spawn(sh, log2);
    cr_assert(again > 0);
    s_endpoint(log2, 0, ep, sizeof ep);
    sfx_start_worker(&f, ep, "fresh", 0);
    cr_assert_eq(bt_proc_wait(again, 120000), 0, "the pasted command failed (see %s)", log2);
    cr_assert(bt_proc_wait_text(log2, "from the journal", 0, NULL, 0));
    s_same("ref", "cut", "results.csv");
    s_same("ref", "cut", "ranking.csv");
    if (wf) {
        s_same("ref", "cut", "walkforward.csv");
        s_same("ref", "cut", "oos_equity.csv");
    }
    free(hint);
}

Test(sweep_resume, plain_sweep_hint_pasted_resumes_the_same_way)
{
    s_interrupt_and_paste(f.cfg, false);
}

Test(sweep_resume, walk_forward_hint_pasted_resumes_the_same_way)
{
    s_interrupt_and_paste(s_wf_cfg, true);
}

/* An older bt named by env (else dflt) with its bt-worker beside it;
 * the test is skipped, saying so, where it does not exist. */
static const char *s_old_bt(const char *env, const char *dflt)
{
    const char *old_bt = getenv(env);
    if (!old_bt || !*old_bt)
        old_bt = dflt;
    char w[512];
    snprintf(w, sizeof w, "%s-worker", old_bt);
    if (access(old_bt, X_OK) != 0 || access(w, X_OK) != 0)
        cr_skip_test("no older bt at %s (set %s)", old_bt, env);
    return old_bt;
}

/* This bt runs the sweep straight into folder ref_tag; old_bt journals
 * part of it into folder tag (a coordinator on --workers 0, one of its
 * workers), then is interrupted. The two folders' paths go to ref, out. */
static void s_old_partial(const char *old_bt, const char *ref_tag, const char *tag,
                          char ref[320], char out[320])
{
    char old_worker[512], log[340], reflog[340], wlog[340];
    snprintf(old_worker, sizeof old_worker, "%s-worker", old_bt);
    sfx_path(ref, 320, &f, ref_tag);
    sfx_path(out, 320, &f, tag);
    snprintf(reflog, sizeof reflog, "%s.log", ref);
    snprintf(log, sizeof log, "%s.log", out);
    snprintf(wlog, sizeof wlog, "%s-worker.log", out);
    char *straight[] = {f.bt, "sweep", f.cfg, "--out", ref, "--workers", "1", NULL};
    cr_assert_eq(bt_proc_run(straight, reflog, 120000), 0);
    char *argv[] = {(char *)old_bt,      "sweep", f.cfg, "--out", out, "--workers", "0", "--bind",
                    "tcp://127.0.0.1:*", NULL};
    pid_t coord = bt_proc_spawn(argv, log);
    cr_assert(coord > 0);
    char ep[256];
    s_endpoint(log, 0, ep, sizeof ep);
    char *w[] = {old_worker, "--connect",   ep,   "--threads", "1", "--debug-job-ms",
                 "20",       "--idle-exit", "30", NULL};
    cr_assert(bt_proc_spawn(w, wlog) > 0);
    sfx_wait_progress(&f, tag, 1);
    cr_assert_eq(kill(coord, SIGINT), 0);
    cr_assert_eq(bt_proc_wait(coord, 30000), 1);
}

/* A journal written by the previous bt (journal version 1, no metric column
 * line) resumes under this one: its columns are the 23 version-1 metrics,
 * mapped by name. BT_BASE_BT names that bt (default /work/base-s1/build/bt,
 * the session-1 build, journal v1); skipped where it does not exist. */
Test(sweep_resume, version_1_journal_from_the_previous_bt_resumes)
{
    const char *old_bt = s_old_bt("BT_BASE_BT", "/work/base-s1/build/bt");
    char ref[320], out[320], log2[340];
    s_old_partial(old_bt, "ref", "v1", ref, out);
    snprintf(log2, sizeof log2, "%s-resumed.log", out);
    char head[4096];
    bt_errbuf_t eb;
    cr_assert_eq(bt_journal_read_header(out, head, sizeof head, &eb), BT_OK, "%s", eb.msg);
    cr_assert(strncmp(head, "bt sweep journal 1\n", 19) == 0, "not a version-1 journal: %s", head);

    /* This bt resumes it: same report as the straight run, the old records kept. */
    char *resume[] = {f.bt, "sweep", f.cfg, "--resume", out, "--workers", "1", NULL};
    cr_assert_eq(bt_proc_run(resume, log2, 120000), 0, "see %s", log2);
    cr_assert(bt_proc_wait_text(log2, "a version-1 journal", 0, NULL, 0));
    s_same("ref", "v1", "results.csv");
    s_same("ref", "v1", "ranking.csv");
    cr_assert_eq(bt_journal_read_header(out, head, sizeof head, &eb), BT_OK);
    cr_assert(strncmp(head, "bt sweep journal 1\n", 19) == 0, "the journal keeps its version");
}

/* The line of summary.txt in folder tag that starts with prefix (after
 * blanks), malloc'd; the PBO and deflated-Sharpe figures of two folders. */
static char *s_summary_line(const char *tag, const char *prefix)
{
    char p[400];
    sfx_path(p, sizeof p, &f, tag);
    strncat(p, "/summary.txt", sizeof p - strlen(p) - 1);
    char *text = bt_proc_slurp(p, NULL);
    cr_assert(text, "no %s", p);
    char *hit = strstr(text, prefix);
    cr_assert(hit, "no '%s' in %s", prefix, p);
    size_t n = strcspn(hit, "\n");
    char *line = strndup(hit, n);
    free(text);
    return line;
}

/* The base bt's engine differs from this one's (a session changes the
 * engine), and a journal of another engine build is rightly refused. The
 * example's results do not depend on those changes (refdiff of every example
 * equal), so the journal is re-labelled with this bt's engine build, as if
 * only the coordinator had changed: its header line is swapped (same length)
 * and the header's CRC-32C (journal format: docs/sweep.md) recomputed. */
static uint32_t s_crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = ~0u;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

static void s_relabel_engine(const char *dir, const char *id_head)
{
    const char *id = strstr(id_head, "engine_build ");
    cr_assert(id, "no engine_build in %s", id_head);
    char path[400];
    snprintf(path, sizeof path, "%s/journal.btj", dir);
    size_t n = 0;
    char *b = bt_proc_slurp(path, &n);
    cr_assert(b && n > 12 && memcmp(b, "BTJRNL1\n", 8) == 0, "%s", path);
    uint32_t hl = (uint32_t)(uint8_t)b[8] | (uint32_t)(uint8_t)b[9] << 8 |
                  (uint32_t)(uint8_t)b[10] << 16 | (uint32_t)(uint8_t)b[11] << 24;
    cr_assert(12 + (size_t)hl + 4 <= n);
    char *line = NULL;
    for (size_t i = 12; !line && i + 13 <= 12 + (size_t)hl; i++)
        if (memcmp(b + i, "engine_build ", 13) == 0)
            line = b + i;
    cr_assert(line, "no engine_build in %s", path);
    size_t len = strcspn(line, "\n");
    cr_assert_eq(len, strcspn(id, "\n"), "engine_build lines of different lengths");
    memcpy(line, id, len);
    uint32_t c = s_crc32c((const uint8_t *)b, 12 + hl);
    for (int k = 0; k < 4; k++)
        b[12 + hl + k] = (char)(c >> (8 * k));
    FILE *out = fopen(path, "wb");
    cr_assert(out && fwrite(b, 1, n, out) == n && fclose(out) == 0, "%s", path);
    free(b);
}

/* A journal written by an older bt (old_bt: journal version ver, "2", "3"
 * or "4") resumes under this one and keeps its version (version 2: its new
 * records single, not grouped; version 3: in version-3 groups): the same
 * results.csv, ranking.csv and PBO / deflated Sharpe lines as a straight run
 * of this bt (whose journal is version 4). */
static void s_older_journal_resumes(const char *old_bt, const char *ver)
{
    char ref[320], out[320], log2[340], rtag[16], tag[16], want[32];
    snprintf(rtag, sizeof rtag, "ref%s", ver);
    snprintf(tag, sizeof tag, "v%s", ver);
    snprintf(want, sizeof want, "bt sweep journal %s\n", ver);
    s_old_partial(old_bt, rtag, tag, ref, out);
    snprintf(log2, sizeof log2, "%s-resumed.log", out);
    char head[4096];
    bt_errbuf_t eb;
    cr_assert_eq(bt_journal_read_header(ref, head, sizeof head, &eb), BT_OK, "%s", eb.msg);
    cr_assert(strncmp(head, "bt sweep journal 4\n", 19) == 0, "a new sweep's journal: %s", head);
    cr_assert_eq(bt_journal_read_header(out, head, sizeof head, &eb), BT_OK, "%s", eb.msg);
    cr_assert(strncmp(head, want, 19) == 0, "not a version-%s journal: %s", ver, head);
    char now[4096];
    cr_assert_eq(bt_journal_read_header(ref, now, sizeof now, &eb), BT_OK, "%s", eb.msg);
    s_relabel_engine(out, now);

    char *resume[] = {f.bt, "sweep", f.cfg, "--resume", out, "--workers", "1", NULL};
    cr_assert_eq(bt_proc_run(resume, log2, 120000), 0, "see %s", log2);
    s_same(rtag, tag, "results.csv");
    s_same(rtag, tag, "ranking.csv");
    static const char *const lines[] = {"PBO ", "deflated Sharpe "};
    for (size_t i = 0; i < 2; i++) {
        char *a = s_summary_line(rtag, lines[i]), *b = s_summary_line(tag, lines[i]);
        cr_assert_str_eq(a, b);
        free(a);
        free(b);
    }
    cr_assert_eq(bt_journal_read_header(out, head, sizeof head, &eb), BT_OK);
    cr_assert(strncmp(head, want, 19) == 0, "the journal keeps its version");
}

/* Version 2: one record each, block statistics as doubles. BT_BASE2_BT
 * names that bt (default /work/base-s4/build/bt, the session-4 build);
 * skipped where it does not exist. */
Test(sweep_resume, version_2_journal_from_the_base_bt_resumes)
{
    s_older_journal_resumes(s_old_bt("BT_BASE2_BT", "/work/base-s4/build/bt"), "2");
}

/* Version 3: compressed groups of the older coding (payload type 2).
 * BT_BASE3_BT names that bt (default /work/base-s5/build/bt, the session-5
 * start build); skipped where it does not exist. */
Test(sweep_resume, version_3_journal_from_the_base_bt_resumes)
{
    s_older_journal_resumes(s_old_bt("BT_BASE3_BT", "/work/base-s5/build/bt"), "3");
}

/* Version 4 written by the session-6 base build (its groups deflated at
 * level 6 with a fresh deflate state each; this build writes level 1 with
 * one state reset per group): it resumes exactly and stays version 4.
 * BT_BASE4_BT names that bt (default /work/base/build/bt, main at ab4be45);
 * skipped where it does not exist. */
Test(sweep_resume, version_4_journal_from_the_base_bt_resumes)
{
    s_older_journal_resumes(s_old_bt("BT_BASE4_BT", "/work/base/build/bt"), "4");
}
