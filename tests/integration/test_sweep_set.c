/* bt sweep --set key=value: the overrides reach every worker (the SWEEP
 * message carries them), so a sweep with --set gives the same report as a
 * sweep of a config file with the value written in it; they are part of the
 * config hash, so a --resume with other values is refused; a bad --set is a
 * usage error naming the key. */
#include "sweep_fixture.h"

static sfx_t f;

static void s_setup(void) { sfx_setup(&f, "sweep-set"); }
static void s_teardown(void) { bt_proc_kill_all(); }

TestSuite(sweep_set, .init = s_setup, .fini = s_teardown, .timeout = 120);

/* bt sweep CFG --out DIR/out --workers N [extra...]; returns the exit code.
 * The log is DIR/out.log. */
static int s_sweep(const char *cfg, const char *out, int workers, const char *set1,
                   const char *set2, bool resume)
{
    char odir[320], log[340], nw[16];
    sfx_path(odir, sizeof odir, &f, out);
    snprintf(log, sizeof log, "%s.log", odir);
    snprintf(nw, sizeof nw, "%d", workers);
    char *argv[16];
    int n = 0;
    argv[n++] = f.bt;
    argv[n++] = "sweep";
    argv[n++] = (char *)cfg;
    if (set1) {
        argv[n++] = "--set";
        argv[n++] = (char *)set1;
    }
    if (set2) {
        argv[n++] = "--set";
        argv[n++] = (char *)set2;
    }
    argv[n++] = resume ? "--resume" : "--out";
    argv[n++] = odir;
    argv[n++] = "--workers";
    argv[n++] = nw;
    argv[n] = NULL;
    return bt_proc_run(argv, log, 120000);
}

/* The fixture's config with `extra` appended (YAML text), as DIR/name. */
static void s_config_with(const char *name, const char *extra, char *path, size_t cap)
{
    sfx_path(path, cap, &f, name);
    char *base = bt_proc_slurp(f.cfg, NULL);
    cr_assert_not_null(base);
    FILE *c = fopen(path, "w");
    cr_assert(c);
    fprintf(c, "%s%s", base, extra);
    fclose(c);
    free(base);
}

static char *s_read(const char *out, const char *file)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s/%s", f.dir, out, file);
    char *text = bt_proc_slurp(p, NULL);
    cr_assert_not_null(text, "no %s", p);
    return text;
}

Test(sweep_set, set_equals_value_in_file_and_differs_from_plain)
{
    char in_file[320];
    s_config_with("c05.yaml", "execution:\n  commission_pct: 0.5\n", in_file, sizeof in_file);
    /* Two workers, so that jobs really run in processes that only saw the
     * SWEEP message (YAML text + overrides). */
    cr_assert_eq(s_sweep(f.cfg, "viaset", 2, "execution.commission_pct=0.5", NULL, false), 0);
    cr_assert_eq(s_sweep(in_file, "infile", 2, NULL, NULL, false), 0);
    cr_assert_eq(s_sweep(f.cfg, "plain", 2, NULL, NULL, false), 0);
    sfx_assert_same_report(&f, "viaset", "infile");
    char *a = s_read("viaset", "results.csv");
    char *c = s_read("plain", "results.csv");
    /* 55 points x 2 symbols of sma_cross trade at least once at fast = 2,
     * so a 0.5 % commission changes final_equity: the reports differ. */
    cr_assert(strcmp(a, c) != 0, "the --set had no effect on the results");
    free(a);
    free(c);
    /* The summary's config hash covers the overrides: differs from the
     * plain sweep of the same file. */
    char *sa = s_read("viaset", "summary.txt");
    char *sc = s_read("plain", "summary.txt");
    const char *ha = strstr(sa, "sha256 "), *hc = strstr(sc, "sha256 ");
    cr_assert(ha && hc, "summary.txt names the config hash");
    cr_assert(strncmp(ha, hc, 7 + 64) != 0, "same config hash with and without --set");
    free(sa);
    free(sc);
}

Test(sweep_set, resume_needs_the_same_overrides)
{
    cr_assert_eq(s_sweep(f.cfg, "r", 1, "execution.commission_pct=0.5", "params.slow=45",
                         false),
                 0);
    /* Another value, a missing --set, or none at all: a different config. */
    cr_assert_eq(s_sweep(f.cfg, "r", 1, "execution.commission_pct=0.4", "params.slow=45", true),
                 2);
    cr_assert(sfx_log_has(&f, "r", "different sweep"));
    cr_assert_eq(s_sweep(f.cfg, "r", 1, "execution.commission_pct=0.5", NULL, true), 2);
    cr_assert_eq(s_sweep(f.cfg, "r", 1, NULL, NULL, true), 2);
    /* The same overrides in the same order: resumes (nothing left to run). */
    char *before = s_read("r", "results.csv");
    cr_assert_eq(s_sweep(f.cfg, "r", 1, "execution.commission_pct=0.5", "params.slow=45", true),
                 0);
    char *after = s_read("r", "results.csv");
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
}

Test(sweep_set, bad_set_is_a_usage_error_naming_the_key)
{
    cr_assert_eq(s_sweep(f.cfg, "bad1", 1, "execution.comission_pct=0.5", NULL, false), 2);
    cr_assert(sfx_log_has(&f, "bad1", "execution.comission_pct"));
    cr_assert(sfx_log_has(&f, "bad1", "did you mean 'execution.commission_pct'"));
    /* Out of bounds (commission_pct is 0..99.99), and not key=value. */
    cr_assert_eq(s_sweep(f.cfg, "bad2", 1, "execution.commission_pct=150", NULL, false), 2);
    cr_assert(sfx_log_has(&f, "bad2", "--set execution.commission_pct=150"));
    cr_assert_eq(s_sweep(f.cfg, "bad3", 1, "params.fast", NULL, false), 2);
    cr_assert(sfx_log_has(&f, "bad3", "expected key=value"));
    /* Nothing was started: no output folder. */
    char p[400];
    snprintf(p, sizeof p, "%s/bad1/journal.btj", f.dir);
    cr_assert_neq(access(p, F_OK), 0, "a bad --set must not start the sweep");

    char log[400];
    snprintf(log, sizeof log, "%s/help.log", f.dir);
    char *help[] = {f.bt, "sweep", "--help", NULL};
    cr_assert_eq(bt_proc_run(help, log, 10000), 0);
    cr_assert(bt_proc_wait_text(log, "--set key=value", 0, NULL, 0));
}
