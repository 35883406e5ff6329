/* Runs `bt data import | info | export` as real processes (BT_BIN_DIR/bt) in a temp dir: exit
 * codes, messages, --replace, --skip-bad, and the layout as h5dump (hdf5-tools) shows it. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char s_dir[64];
static char s_out[160], s_err[160];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_cli_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
    snprintf(s_out, sizeof s_out, "%s/stdout.txt", s_dir);
    snprintf(s_err, sizeof s_err, "%s/stderr.txt", s_dir);
}

static void s_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli, .init = s_setup, .fini = s_teardown);

/* Runs argv (argv[0] a path) with stdout/stderr to s_out/s_err; returns the exit code. */
static int s_run(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, s_out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, s_err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "cannot start %s", argv[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "%s did not exit normally", argv[0]);
    return WEXITSTATUS(st);
}

static char *s_slurp(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void s_write(const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

#define BT BT_BIN_DIR "/bt"

static const char *s_good = "Date,Open,High,Low,Close,Adj Close,Volume\n"
                            "2020-01-02,10,11,9,10.5,10.4,1000\n"
                            "2020-01-03,10.5,12,10,11.25,11.1,2000\n"
                            "2020-01-06,11.25,11.5,10.75,11,10.9,1500\n";

Test(cli, import_info_export_roundtrip_and_h5dump)
{
    char csv[160], store[160], back[160];
    s_write("abc-2020.csv", s_good, csv, sizeof csv);
    snprintf(store, sizeof store, "%s/s.h5", s_dir);
    snprintf(back, sizeof back, "%s/back.csv", s_dir);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, NULL}), 0, "%s",
                 s_slurp(s_err));
    char *out = s_slurp(s_out);
    /* symbol from the file stem up to the first '-': abc-2020.csv -> ABC */
    cr_assert(strstr(out, "ABC") && strstr(out, "3 rows") && strstr(out, "2020-01-02") &&
                  strstr(out, "2020-01-06") && strstr(out, "1d") && strstr(out, "rows/s"),
              "%s", out);

    cr_assert_eq(s_run((char *[]){BT, "data", "info", store, NULL}), 0, "%s", s_slurp(s_err));
    out = s_slurp(s_out);
    cr_assert(strstr(out, "ABC") && strstr(out, "data hash:"), "%s", out);

    cr_assert_eq(s_run((char *[]){BT, "data", "info", store, "ABC", "--verify", NULL}), 0, "%s",
                 s_slurp(s_err));
    out = s_slurp(s_out);
    cr_assert(strstr(out, "verify ABC: OK") && strstr(out, "source          abc-2020.csv") &&
                  strstr(out, "adj_close"),
              "%s", out);

    cr_assert_eq(s_run((char *[]){BT, "data", "export", store, "ABC", "--out", back, NULL}), 0);
    out = s_slurp(back);
    cr_assert_str_eq(out, "Date,Open,High,Low,Close,Adj Close,Volume\n"
                          "2020-01-02,10,11,9,10.5,10.4,1000\n"
                          "2020-01-03,10.5,12,10,11.25,11.1,2000\n"
                          "2020-01-06,11.25,11.5,10.75,11,10.9,1500\n");
    /* to stdout by default */
    cr_assert_eq(s_run((char *[]){BT, "data", "export", store, "ABC", NULL}), 0);
    cr_assert_str_eq(s_slurp(s_out), out);

    /* h5dump shows the layout: /ABC/time int64, /ABC/close float64, attributes */
    char h5[200];
    snprintf(h5, sizeof h5, "%s", "h5dump");
    cr_assert_eq(s_run((char *[]){h5, "-H", store, NULL}), 0, "h5dump failed: %s", s_slurp(s_err));
    out = s_slurp(s_out);
    cr_assert(strstr(out, "GROUP \"ABC\""), "%s", out);
    cr_assert(strstr(out, "DATASET \"time\"") && strstr(out, "H5T_STD_I64LE"), "%s", out);
    cr_assert(strstr(out, "DATASET \"close\"") && strstr(out, "H5T_IEEE_F64LE"), "%s", out);
    cr_assert(strstr(out, "DATASET \"adj_close\"") && strstr(out, "ATTRIBUTE \"content_sha256\"") &&
                  strstr(out, "ATTRIBUTE \"source_sha256\"") &&
                  strstr(out, "ATTRIBUTE \"frequency\""),
              "%s", out);
    cr_assert_eq(s_run((char *[]){h5, "-d", "/ABC/close", store, NULL}), 0);
    out = s_slurp(s_out);
    cr_assert(strstr(out, "10.5, 11.25, 11"), "%s", out);
}

Test(cli, replace_and_eexist)
{
    char csv[160], store[160];
    s_write("abc.csv", s_good, csv, sizeof csv);
    snprintf(store, sizeof store, "%s/s.h5", s_dir);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, NULL}), 0);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, NULL}), 1);
    cr_assert(strstr(s_slurp(s_err), "already exists") && strstr(s_slurp(s_err), "--replace"), "%s",
              s_slurp(s_err));
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, "--replace",
                                  "--compress", "deflate", NULL}),
                 0, "%s", s_slurp(s_err));
    cr_assert_eq(s_run((char *[]){BT, "data", "info", store, "ABC", NULL}), 0);
    cr_assert(strstr(s_slurp(s_out), "shuffle + deflate"), "%s", s_slurp(s_out));
    /* --symbol stores under another name */
    cr_assert_eq(
        s_run((char *[]){BT, "data", "import", csv, "--out", store, "--symbol", "XYZ", NULL}), 0);
    cr_assert_eq(s_run((char *[]){BT, "data", "info", store, NULL}), 0);
    cr_assert(strstr(s_slurp(s_out), "XYZ"), "%s", s_slurp(s_out));
}

Test(cli, bad_rows_fail_or_skip)
{
    char csv[160], store[160];
    s_write("bad.csv",
            "Date,Open,High,Low,Close,Volume\n"
            "2020-01-02,10,11,9,10.5,1000\n"
            "2020-01-03,10,9,11,10.5,1000\n" /* line 3: high below low */
            "2020-01-06,10,11,9,10.5,1000\n",
            csv, sizeof csv);
    snprintf(store, sizeof store, "%s/s.h5", s_dir);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, NULL}), 1);
    char *err = s_slurp(s_err);
    cr_assert(strstr(err, "bad.csv:3: field 'high'") && strstr(err, "--skip-bad"), "%s", err);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, "--skip-bad", NULL}),
                 0, "%s", s_slurp(s_err));
    char *out = s_slurp(s_out);
    cr_assert(strstr(out, "2 rows") && strstr(out, "skipped 1 bad row") &&
                  strstr(out, "high below low (line 3)"),
              "%s", out);
}

Test(cli, usage_errors_exit_2_and_help)
{
    char csv[160], store[160];
    s_write("abc.csv", s_good, csv, sizeof csv);
    snprintf(store, sizeof store, "%s/s.h5", s_dir);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, NULL}), 2); /* no --out */
    cr_assert(strstr(s_slurp(s_err), "--out"), "%s", s_slurp(s_err));
    cr_assert_eq(s_run((char *[]){BT, "data", "import", "--out", store, NULL}), 2); /* no file */
    cr_assert_eq(
        s_run((char *[]){BT, "data", "import", csv, csv, "--symbol", "A", "--out", store, NULL}),
        2);
    cr_assert_eq(
        s_run((char *[]){BT, "data", "import", csv, "--format", "excel", "--out", store, NULL}), 2);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--bogus", "--out", store, NULL}), 2);
    cr_assert_eq(s_run((char *[]){BT, "data", "info", NULL}), 2);
    cr_assert_eq(s_run((char *[]){BT, "data", "export", store, NULL}), 2);
    const char *cmds[] = {"import", "info", "export"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(s_run((char *[]){BT, "data", (char *)cmds[i], "--help", NULL}), 0);
        char *out = s_slurp(s_out);
        cr_assert(strstr(out, "usage: bt data") && strstr(out, "example"), "%s", out);
    }
    /* failures of the work exit 1: missing file, missing store, missing symbol */
    cr_assert_eq(
        s_run((char *[]){BT, "data", "import", "/nonexistent/x.csv", "--out", store, NULL}), 1);
    cr_assert(strstr(s_slurp(s_err), "/nonexistent/x.csv"), "%s", s_slurp(s_err));
    cr_assert_eq(s_run((char *[]){BT, "data", "info", store, NULL}), 1);
    cr_assert(strstr(s_slurp(s_err), store), "%s", s_slurp(s_err));
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, NULL}), 0);
    cr_assert_eq(s_run((char *[]){BT, "data", "export", store, "NOPE", NULL}), 1);
    cr_assert(strstr(s_slurp(s_err), "'NOPE'") && strstr(s_slurp(s_err), "ABC"), "%s",
              s_slurp(s_err));
}

/* Issue 10: placeholder and absurd rows are refused, or skipped and counted per reason; a
 * CR-only file imports (before: all of these imported, and the CR file failed). */
Test(cli, implausible_rows_and_cr_only_file)
{
    char csv[160], cr[160], store[160];
    s_write("z.csv",
            "Date,Open,High,Low,Close,Volume\n"
            "2020-01-02,10,11,9,10.5,1000\n"
            "2020-01-03,0,0,0,0,0\n"            /* line 3: all-zero placeholder */
            "2020-01-06,10,1e308,9,10.5,1000\n" /* line 4: absurd high */
            "2020-01-07,10,11,9,10.5,1000\n",
            csv, sizeof csv);
    snprintf(store, sizeof store, "%s/s.h5", s_dir);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, NULL}), 1);
    char *err = s_slurp(s_err);
    cr_assert(strstr(err, "z.csv:3: field 'open'") && strstr(err, "all zero"), "%s", err);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, "--skip-bad", NULL}),
                 0, "%s", s_slurp(s_err));
    char *out = s_slurp(s_out);
    cr_assert(strstr(out, "2 rows") && strstr(out, "skipped 2 bad rows") &&
                  strstr(out, "1 x open, high, low and close all zero (line 3)") &&
                  strstr(out, "1 x price above 1e12 or volume above 1e15 (line 4)"),
              "%s", out);
    s_write("cr.csv",
            "Date,Open,High,Low,Close,Volume\r2020-01-02,10,11,9,10.5,1000\r"
            "2020-01-03,10.5,12,10,11.25,2000\r",
            cr, sizeof cr);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", cr, "--out", store, NULL}), 0, "%s",
                 s_slurp(s_err));
    cr_assert(strstr(s_slurp(s_out), "2 rows"), "%s", s_slurp(s_out));
}

/* Issue 14: import options. A semicolon file with US dates, epoch milliseconds, a column map, a
 * time zone and --adjust, each read back with export; bad values exit 2 naming the flag. */
Test(cli, import_options)
{
    char csv[160], store[160];
    snprintf(store, sizeof store, "%s/s.h5", s_dir);
    s_write("us.csv",
            "Date;Open;High;Low;Close;Volume\n01/02/2020;10;11;9;10.5;1000\n"
            "01/03/2020;10.5;12;10;11.25;2000\n",
            csv, sizeof csv);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, "--delimiter", ";",
                                  "--date-format", "%m/%d/%Y", NULL}),
                 0, "%s", s_slurp(s_err));
    cr_assert_eq(s_run((char *[]){BT, "data", "export", store, "US", NULL}), 0);
    cr_assert_str_eq(s_slurp(s_out), "Date,Open,High,Low,Close,Volume\n"
                                     "2020-01-02,10,11,9,10.5,1000\n"
                                     "2020-01-03,10.5,12,10,11.25,2000\n");
    /* epoch ms in column 2, prices by position; `date -u -d @1577957400` = 2020-01-02 09:30 */
    s_write("ep.csv", "x,10,1577957400000,11,9,10.5\nx,10,1577957460000,11,9,10.25\n", csv,
            sizeof csv);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, "--epoch", "ms",
                                  "--columns", "time=2,open=1,high=3,low=4,close=5", NULL}),
                 0, "%s", s_slurp(s_err));
    cr_assert_eq(s_run((char *[]){BT, "data", "export", store, "EP", NULL}), 0);
    cr_assert_str_eq(s_slurp(s_out), "Date,Open,High,Low,Close,Volume\n"
                                     "2020-01-02 09:30:00,10,11,9,10.5,0\n"
                                     "2020-01-02 09:31:00,10,11,9,10.25,0\n");
    /* local time at UTC+01:00 is stored as UTC */
    s_write("tz.csv", "Date,Open,High,Low,Close\n2020-01-02 10:30,10,11,9,10.5\n", csv, sizeof csv);
    cr_assert_eq(
        s_run((char *[]){BT, "data", "import", csv, "--out", store, "--tz", "+01:00", NULL}), 0,
        "%s", s_slurp(s_err));
    cr_assert_eq(s_run((char *[]){BT, "data", "export", store, "TZ", NULL}), 0);
    cr_assert(strstr(s_slurp(s_out), "2020-01-02 09:30:00,10,11,9,10.5"), "%s", s_slurp(s_out));
    /* --adjust: factor 10.4 / 10.5 (s_good's first row), close becomes 10.4 */
    s_write("adj.csv", s_good, csv, sizeof csv);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, "--adjust", NULL}), 0,
                 "%s", s_slurp(s_err));
    cr_assert(strstr(s_slurp(s_out), "adjusted: open, high, low, close x adj_close / close"));
    cr_assert_eq(s_run((char *[]){BT, "data", "export", store, "ADJ", NULL}), 0);
    cr_assert(strstr(s_slurp(s_out), ",10.4,10.4,1000\n"), "%s", s_slurp(s_out));
    cr_assert_eq(s_run((char *[]){BT, "data", "info", store, "ADJ", NULL}), 0);
    cr_assert(strstr(s_slurp(s_out), "(adjusted: OHLC x adj_close/close)"), "%s", s_slurp(s_out));

    struct {
        const char *flag, *value, *says;
    } bad[] = {
        {"--delimiter", "::", "--delimiter '::'"},
        {"--epoch", "us", "--epoch 'us'"},
        {"--date-format", "%Y-%q-%d", "--date-format"},
        {"--tz", "Mars/Olympus", "--tz 'Mars/Olympus'"},
        {"--columns", "open=1", "--columns"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, "--replace",
                                      (char *)bad[i].flag, (char *)bad[i].value, NULL}),
                     2, "%s", bad[i].flag);
        cr_assert(strstr(s_slurp(s_err), bad[i].says), "%s", s_slurp(s_err));
    }
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, "--epoch", "s",
                                  "--date-format", "%Y-%m-%d", NULL}),
                 2);
    cr_assert(strstr(s_slurp(s_err), "--date-format and --epoch"), "%s", s_slurp(s_err));
    cr_assert_eq(
        s_run((char *[]){BT, "data", "import", csv, "--out", store, "--date-format", NULL}), 2);
    cr_assert(strstr(s_slurp(s_err), "--date-format needs a value"), "%s", s_slurp(s_err));
}

/* A file name that is not a ticker (2006-day-001.txt -> "2006") needs --symbol; nothing of a
 * multi-file import is written when one name is refused. */
Test(cli, symbol_from_file_name_must_be_a_ticker)
{
    char good[160], idx[160], store[160];
    s_write("abc.csv", s_good, good, sizeof good);
    s_write("2006-day-001.txt", s_good, idx, sizeof idx);
    snprintf(store, sizeof store, "%s/s.h5", s_dir);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", good, idx, "--out", store, NULL}), 2);
    char *err = s_slurp(s_err);
    cr_assert(strstr(err, "2006-day-001.txt: cannot take a symbol from the file name") &&
                  strstr(err, "'2006' does not start with a letter") && strstr(err, "--symbol"),
              "%s", err);
    cr_assert_neq(access(store, F_OK), 0, "the store must not be created");
    cr_assert_eq(
        s_run((char *[]){BT, "data", "import", idx, "--symbol", "IDX", "--out", store, NULL}), 0,
        "%s", s_slurp(s_err));
    s_write("a$b.csv", s_good, idx, sizeof idx);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", idx, "--out", store, NULL}), 2);
    cr_assert(strstr(s_slurp(s_err), "holds '$'"), "%s", s_slurp(s_err));
}

Test(cli, resample)
{
    char csv[160], store[160], out[160];
    s_write("m.csv",
            "Date,Open,High,Low,Close,Volume\n"
            "2020-01-02 09:00,10,12,9,11,1\n2020-01-02 09:30,11,15,10,12,2\n"
            "2020-01-02 10:00,12,13,8,9,3\n2020-01-03 09:00,9,10,7,8,4\n",
            csv, sizeof csv);
    snprintf(store, sizeof store, "%s/m.h5", s_dir);
    snprintf(out, sizeof out, "%s/d.h5", s_dir);
    cr_assert_eq(s_run((char *[]){BT, "data", "import", csv, "--out", store, NULL}), 0, "%s",
                 s_slurp(s_err));
    /* session 09:00-09:45 drops the 10:00 bar of 01-02 */
    cr_assert_eq(s_run((char *[]){BT, "data", "resample", store, "M", "--to", "1d", "--out", out,
                                  "--session", "09:00-09:45", NULL}),
                 0, "%s", s_slurp(s_err));
    cr_assert(strstr(s_slurp(s_out), "2 rows"), "%s", s_slurp(s_out));
    cr_assert_eq(s_run((char *[]){BT, "data", "export", out, "M", NULL}), 0);
    cr_assert_str_eq(s_slurp(s_out), "Date,Open,High,Low,Close,Volume\n"
                                     "2020-01-02,10,15,9,12,3\n"
                                     "2020-01-03,9,10,7,8,4\n");
    /* 1h, start labels: 09:00 + 09:30 -> 09:00; 10:00 -> 10:00 */
    cr_assert_eq(s_run((char *[]){BT, "data", "resample", store, "M", "--to", "1h", "--out", out,
                                  "--symbol", "H", NULL}),
                 0, "%s", s_slurp(s_err));
    cr_assert_eq(s_run((char *[]){BT, "data", "export", out, "H", NULL}), 0);
    cr_assert_str_eq(s_slurp(s_out), "Date,Open,High,Low,Close,Volume\n"
                                     "2020-01-02 09:00:00,10,15,9,12,3\n"
                                     "2020-01-02 10:00:00,12,13,8,9,3\n"
                                     "2020-01-03 09:00:00,9,10,7,8,4\n");
    /* existing name without --replace */
    cr_assert_eq(s_run((char *[]){BT, "data", "resample", store, "M", "--to", "1h", "--out", out,
                                  "--symbol", "H", NULL}),
                 1);
    cr_assert(strstr(s_slurp(s_err), "--replace"), "%s", s_slurp(s_err));
    struct {
        const char *flag, *value, *says;
    } bad[] = {{"--to", "7m", "--to '7m'"},
               {"--label", "middle", "--label 'middle'"},
               {"--session", "9-17", "--session '9-17'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {BT,
                        "data",
                        "resample",
                        store,
                        "M",
                        "--to",
                        "1d",
                        "--out",
                        out,
                        (char *)bad[i].flag,
                        (char *)bad[i].value,
                        NULL};
        cr_assert_eq(s_run(argv), 2, "%s", bad[i].flag);
        cr_assert(strstr(s_slurp(s_err), bad[i].says), "%s", s_slurp(s_err));
    }
    cr_assert_eq(s_run((char *[]){BT, "data", "resample", store, "M", "--out", out, NULL}), 2);
    cr_assert(strstr(s_slurp(s_err), "--to PERIOD is required"), "%s", s_slurp(s_err));
    cr_assert_eq(
        s_run((char *[]){BT, "data", "resample", store, "NOPE", "--to", "1d", "--out", out, NULL}),
        1);
    cr_assert_eq(s_run((char *[]){BT, "data", "resample", "--help", NULL}), 0);
    cr_assert(strstr(s_slurp(s_out), "example:"), "%s", s_slurp(s_out));
    /* finer than the source */
    cr_assert_eq(s_run((char *[]){BT, "data", "resample", out, "M", "--to", "1h", "--out", out,
                                  "--symbol", "X", NULL}),
                 1);
    cr_assert(strstr(s_slurp(s_err), "coarser than the target"), "%s", s_slurp(s_err));
}
