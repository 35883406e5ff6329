/* bt status DIR [--json] — prints DIR/status.json of a sweep (written by its
 * coordinator about once a second) and says whether that coordinator is
 * still alive: its pid runs and the file is fresh. --json prints one JSON
 * object instead (the file plus "coordinator" and "age_ms"), for programs
 * such as the Python package's backtester.status(). --results prints the
 * results journaled so far as CSV, in results.csv's columns. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bt_cmd.h"
#include "bt_csvw.h"
#include "bt_fs.h"
#include "bt_journal.h"
#include "bt_plan.h"
#include "bt_sweepjob.h"

#define S_STATUS_MAX (64u << 20)
#define S_STALE_MS 10000 /* ten missed updates */

static void s_usage(FILE *out)
{
    fprintf(out, "usage: bt status DIR [--json | --results]\n\n"
                 "Shows the progress of the sweep writing to DIR (its DIR/status.json: jobs\n"
                 "done, failed, rate, ETA, and per worker host, threads, rate, jobs done and\n"
                 "last heard), and whether its coordinator is running, gone or stale.\n"
                 "Exit status: 0 running or finished, 1 gone or stale, 2 no status file.\n"
                 "--json: one JSON object: status.json plus \"coordinator\" (running, finished,\n"
                 "interrupted, gone or stale) and \"age_ms\" (since the last update).\n"
                 "--results: the results journaled so far (running or not), as CSV in the\n"
                 "columns of results.csv (job_id, swept values, metrics, status, error), one\n"
                 "row per finished job in job order; read from a copy of DIR/journal.btj.\n\n"
                 "example:\n"
                 "  bt status out/sma\n"
                 "  bt status out/sma --json\n"
                 "  bt status out/sma --results > so_far.csv\n");
}

/* The integer after "key": in text, or -1. */
static long long s_int(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(text, pat);
    if (!p)
        return -1;
    errno = 0;
    long long v = strtoll(p + strlen(pat), NULL, 10);
    return errno ? -1 : v;
}

/* status.json's last '}' replaced by the verdict fields (the file is one object). */
static void s_print_json(const char *text, const char *verdict, long long age)
{
    const char *end = strrchr(text, '}');
    if (!end) { /* not the coordinator's file: say so as JSON rather than echo it */
        printf("{\"coordinator\": \"%s\", \"age_ms\": %lld}\n", verdict, age);
        return;
    }
    while (end > text && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    fwrite(text, 1, (size_t)(end - text), stdout);
    printf(",\n  \"coordinator\": \"%s\",\n  \"age_ms\": %lld\n}\n", verdict, age);
}

/* ---- --results: the journal so far ---- */

#define S_COPY_CHUNK (1u << 20)

typedef struct {
    uint64_t job; /* job id */
    uint64_t seq; /* position in the journal */
    size_t moff;  /* its metrics: rs->m[moff .. moff + ncols) */
    char *error;  /* failed jobs only (heap), else NULL */
    uint8_t ok;
} s_row_t;

typedef struct {
    s_row_t *rows;
    size_t n, cap;
    double *m;    /* ncols values per row, the journal's column order */
    size_t ncols; /* from the header's metrics line */
    bool oom;
} s_rows_t;

static void s_collect(void *user, const bt_journal_rec_t *r)
{
    s_rows_t *rs = user;
    if (rs->oom)
        return;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 256;
        s_row_t *nr = realloc(rs->rows, cap * sizeof *nr);
        double *nm = nr ? realloc(rs->m, cap * (rs->ncols ? rs->ncols : 1) * sizeof *nm) : NULL;
        if (nr)
            rs->rows = nr;
        if (!nr || !nm) {
            rs->oom = true;
            return;
        }
        rs->m = nm;
        rs->cap = cap;
    }
    s_row_t *w = &rs->rows[rs->n];
    *w = (s_row_t){.job = r->job_id, .seq = rs->n, .moff = rs->n * rs->ncols, .ok = r->ok};
    for (size_t c = 0; c < rs->ncols; c++)
        rs->m[w->moff + c] = c < r->nmetrics ? r->metrics[c] : NAN;
    if (!r->ok && !(w->error = strdup(r->error))) {
        rs->oom = true;
        return;
    }
    rs->n++;
}

static void s_rows_fini(s_rows_t *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->rows[i].error);
    free(rs->rows);
    free(rs->m);
}

/* Job order; for one job an ok record before a failed one, then journal order. */
static int s_row_cmp(const void *a, const void *b)
{
    const s_row_t *x = a, *y = b;
    if (x->job != y->job)
        return x->job < y->job ? -1 : 1;
    if (x->ok != y->ok)
        return x->ok ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bt_err_t s_copy(const char *from, const char *to, bt_errbuf_t *eb)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char *buf = out ? malloc(S_COPY_CHUNK) : NULL;
    bt_err_t e = buf ? BT_OK
                     : bt_errf(eb, BT_EIO, "%s: %s", in ? to : from,
                               out || !in ? strerror(errno) : "out of memory");
    size_t n;
    while (e == BT_OK && (n = fread(buf, 1, S_COPY_CHUNK, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            e = bt_errf(eb, BT_EIO, "%s: write failed: %s", to, strerror(errno));
    if (e == BT_OK && ferror(in))
        e = bt_errf(eb, BT_EIO, "%s: read failed", from);
    free(buf);
    if (out && fclose(out) != 0 && e == BT_OK)
        e = bt_errf(eb, BT_EIO, "%s: %s", to, strerror(errno));
    if (in)
        fclose(in);
    return e;
}

/* The journal's records, read from a snapshot so a running coordinator's
 * file is never touched (replay truncates a torn tail: in the copy only). */
static bt_err_t s_replay_copy(const char *dir, const char *head, s_rows_t *rs, bt_errbuf_t *eb)
{
    const char *tmpdir = getenv("TMPDIR");
    char tmp[4096], from[4096], to[4200];
    snprintf(tmp, sizeof tmp, "%s/bt-status-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(tmp))
        return bt_errf(eb, BT_EIO, "%s: cannot make a temporary folder: %s", tmp, strerror(errno));
    snprintf(from, sizeof from, "%s/%s", dir, BT_JOURNAL_FILE);
    snprintf(to, sizeof to, "%s/%s", tmp, BT_JOURNAL_FILE);
    bt_err_t e = s_copy(from, to, eb);
    bt_journal_t *j = e == BT_OK ? bt_journal_open(tmp, head, true, eb) : NULL;
    if (e == BT_OK && !j)
        e = eb->code ? eb->code : BT_EIO;
    if (j)
        e = bt_journal_replay(j, s_collect, rs, eb);
    bt_journal_close(&j);
    remove(to);
    rmdir(tmp);
    if (e == BT_OK && rs->oom)
        e = bt_errf(eb, BT_ENOMEM, "out of memory for the journal's records");
    return e;
}

/* The header's "metrics A,B,..." line cut into names (in place). */
static size_t s_metric_names(char *head, const char **names, size_t cap)
{
    char *p = strstr(head, "\nmetrics ");
    size_t n = 0;
    if (!p)
        return 0;
    p += strlen("\nmetrics ");
    char *end = strchr(p, '\n');
    if (end)
        *end = '\0';
    while (*p && n < cap) {
        names[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

/* One job's swept values as results.csv writes them (bt_driver + bt_report):
 * a number, or for a symbol-set axis its label then its index. */
static void s_put_point(bt_csvw_t *w, const bt_plan_t *plan, uint64_t job, double *vals)
{
    size_t na = plan ? bt_plan_naxes(plan) : 0;
    if (plan)
        bt_plan_values(plan, job, vals);
    for (size_t a = 0; a < na; a++) {
        if (bt_plan_axis_is_symbols(plan, a)) {
            char buf[4096];
            size_t j = (size_t)vals[a];
            bt_csvw_str(
                w, j < bt_plan_axis_len(plan, a) ? bt_plan_label(plan, a, j, buf, sizeof buf) : "");
        }
        bt_csvw_double(w, vals[a]);
    }
}

static int s_results(const char *dir)
{
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    static char head[BT_JOURNAL_MAX_HEADER + 1];
    if (bt_journal_read_header(dir, head, sizeof head, &eb) != BT_OK) {
        fprintf(stderr, "bt status: %s (is %s the --out folder of a bt sweep?)\n", eb.msg, dir);
        return 2;
    }
    static char cols[BT_JOURNAL_MAX_HEADER + 1]; /* cut into names in place */
    memcpy(cols, head, sizeof cols);
    const char *names[BT_JOURNAL_MAX_METRICS];
    size_t nm = s_metric_names(cols, names, BT_JOURNAL_MAX_METRICS);
    s_rows_t rs = {.ncols = nm};
    if (s_replay_copy(dir, head, &rs, &eb) != BT_OK) {
        fprintf(stderr, "bt status: %s\n", eb.msg);
        s_rows_fini(&rs);
        return 1;
    }
    /* the swept values of each job, as the coordinator planned them */
    bt_sweepjob_t *sj = bt_sweepjob_open(dir, &eb);
    bt_plan_t *plan = sj ? bt_plan_new(bt_sweepjob_base(sj), true, &eb) : NULL;
    if (!plan)
        fprintf(stderr, "bt status: no swept values in the output: %s\n", eb.msg);
    size_t naxes = plan ? bt_plan_naxes(plan) : 0;
    double *vals = calloc(naxes ? naxes : 1, sizeof *vals);
    qsort(rs.rows, rs.n, sizeof *rs.rows, s_row_cmp);
    bt_csvw_t w;
    bt_csvw_init_file(&w, stdout);
    bt_csvw_str(&w, "job_id");
    for (size_t a = 0; a < naxes; a++) {
        const char *key = bt_plan_axis_keys(plan)[a];
        bt_csvw_str(&w, key);
        if (bt_plan_axis_is_symbols(plan, a)) {
            char name[512];
            snprintf(name, sizeof name, "%s_index", key);
            bt_csvw_str(&w, name);
        }
    }
    for (size_t m = 0; m < nm; m++)
        bt_csvw_str(&w, names[m]);
    bt_csvw_str(&w, "status");
    bt_csvw_str(&w, "error");
    bt_csvw_end_row(&w);
    for (size_t i = 0; i < rs.n; i++) {
        const s_row_t *r = &rs.rows[i];
        if (i && r->job == rs.rows[i - 1].job)
            continue; /* the same job recorded again */
        bt_csvw_u64(&w, r->job);
        if (vals && r->job < (plan ? bt_plan_jobs(plan) : 0))
            s_put_point(&w, plan, r->job, vals);
        else
            for (size_t a = 0; a < naxes; a++) {
                bt_csvw_empty(&w);
                if (bt_plan_axis_is_symbols(plan, a))
                    bt_csvw_empty(&w);
            }
        for (size_t m = 0; m < nm; m++)
            if (r->ok)
                bt_csvw_double(&w, rs.m[r->moff + m]);
            else
                bt_csvw_empty(&w);
        bt_csvw_str(&w, r->ok ? "ok" : "failed");
        bt_csvw_str(&w, r->error ? r->error : "");
        bt_csvw_end_row(&w);
    }
    bt_plan_destroy(&plan);
    bt_sweepjob_destroy(&sj);
    free(vals);
    s_rows_fini(&rs);
    fflush(stdout);
    return w.err == BT_OK ? 0 : 1;
}

int bt_cmd_status(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[2], "--results") == 0)
        return s_results(argv[1]);
    bool json = argc == 3 && strcmp(argv[2], "--json") == 0;
    if ((argc != 2 && !json) || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        bool help = argc == 2;
        s_usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/status.json", argv[1]);
    bt_errbuf_t eb;
    size_t len = 0;
    char *text = bt_fs_read_file(path, S_STATUS_MAX, &len, &eb);
    if (!text) {
        fprintf(stderr, "bt status: %s (is %s the --out folder of a bt sweep?)\n", eb.msg, argv[1]);
        return 2;
    }
    long long pid = s_int(text, "pid"), updated = s_int(text, "updated_ms");
    bool finished = strstr(text, "\"state\": \"finished\"") != NULL;
    bool interrupted = strstr(text, "\"state\": \"interrupted\"") != NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    long long age = updated >= 0 ? now - updated : -1;
    bool alive = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
    bool stale = age < 0 || age > S_STALE_MS;
    const char *verdict = finished      ? "finished"
                          : interrupted ? "interrupted"
                          : !alive      ? "gone"
                          : stale       ? "stale"
                                        : "running";
    int rc = finished || (!interrupted && alive && !stale) ? 0 : 1;
    if (json) {
        s_print_json(text, verdict, age);
        free(text);
        return rc;
    }
    fputs(text, stdout);
    free(text);
    if (finished) {
        printf("coordinator: finished (%lld s ago)\n", age / 1000);
        return 0;
    }
    if (interrupted) {
        printf("coordinator: stopped early (%lld s ago); continue with --resume %s\n", age / 1000,
               argv[1]);
        return 1;
    }
    if (!alive) {
        printf("coordinator: GONE (pid %lld is not running; last update %lld s ago); continue "
               "with --resume %s\n",
               pid, age / 1000, argv[1]);
        return 1;
    }
    if (stale) {
        printf("coordinator: STALE (pid %lld runs but wrote nothing for %lld s: stopped? on "
               "another machine?)\n",
               pid, age / 1000);
        return 1;
    }
    printf("coordinator: running (pid %lld, updated %lld ms ago)\n", pid, age);
    return 0;
}
