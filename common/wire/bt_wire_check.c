/* bt_wire — the value rules of every message (bt_wire_check). */
#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_wire_priv.h"

/* -------------------------------------------------------- value checks -- */

bool bt_wire_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static bool s_hex64(const char *s)
{
    size_t n = strlen(s);
    if (n != BT_WIRE_SHA256_HEX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Text field rule: valid UTF-8, and non-empty unless allowed. */
static bt_err_t s_check_text(const char *mn, const char *field, const char *s, bool may_be_empty,
                             bt_errbuf_t *eb)
{
    size_t n = strlen(s);
    if (n == 0 && !may_be_empty)
        return bt_errf(eb, BT_EPROTO, "wire %s message: field '%s' is empty; it must not be", mn,
                       field);
    if (!bt_wire_utf8_valid((const unsigned char *)s, n))
        return bt_errf(eb, BT_EPROTO, "wire %s message: field '%s' is not valid UTF-8", mn, field);
    return BT_OK;
}

/* n doubles of field `what` are finite. */
static bt_err_t s_check_finite(const bt_msg_result_t *r, const char *what, const double *v,
                               uint32_t n, bt_errbuf_t *eb)
{
    for (uint32_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: %s[%u] is %g; it must be finite",
                           (unsigned long long)r->job_id, what, i, v[i]);
    return BT_OK;
}

/* The equity segment of a walk-forward test run. */
static bt_err_t s_check_seg(const bt_msg_result_t *r, bt_errbuf_t *eb)
{
    if (r->nseg > BT_WIRE_SEG_MAX || r->nfills > BT_WIRE_FILLS_MAX ||
        r->ntrades > BT_WIRE_TRADES_MAX)
        return bt_errf(eb, BT_ELIMIT,
                       "wire RESULT message: segment of %u points, %u fills, %u trades; the "
                       "limits are %u, %u, %u",
                       r->nseg, r->nfills, r->ntrades, BT_WIRE_SEG_MAX, BT_WIRE_FILLS_MAX,
                       BT_WIRE_TRADES_MAX);
    if ((r->nseg && (!r->seg_time || !r->seg_equity || !r->seg_exposed)) ||
        (r->nfills && (!r->fill_value || !r->fill_commission)) || (r->ntrades && !r->trade_pnl))
        return bt_errf(eb, BT_EINVAL, "wire RESULT message: a segment view is NULL");
    for (uint32_t i = 1; i < r->nseg; i++)
        if (r->seg_time[i] <= r->seg_time[i - 1])
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: et[%u] is not after et[%u]; "
                           "segment times must increase",
                           (unsigned long long)r->job_id, i, i - 1);
    for (uint32_t i = 0; i < r->nseg; i++)
        if (r->seg_exposed[i] > 1)
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: ex[%u] is %u; it must be 0 or 1",
                           (unsigned long long)r->job_id, i, r->seg_exposed[i]);
    bt_err_t e = s_check_finite(r, "ee", r->seg_equity, r->nseg, eb);
    if (e == BT_OK)
        e = s_check_finite(r, "fv", r->fill_value, r->nfills, eb);
    if (e == BT_OK)
        e = s_check_finite(r, "fc", r->fill_commission, r->nfills, eb);
    if (e == BT_OK)
        e = s_check_finite(r, "tp", r->trade_pnl, r->ntrades, eb);
    return e;
}

static bt_err_t s_check_result(const bt_msg_result_t *r, bt_errbuf_t *eb)
{
    bt_err_t e = s_check_text("RESULT", "err", r->error, true, eb);
    if (e != BT_OK)
        return e;
    if (r->status == BT_JOB_OK) {
        if (r->error[0])
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: status ok but field 'err' is set "
                           "(\"%.80s\")",
                           (unsigned long long)r->job_id, r->error);
        if (!r->has_metrics)
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: status ok but key 'm' (metrics) is "
                           "missing",
                           (unsigned long long)r->job_id);
    } else if (r->status == BT_JOB_FAILED) {
        if (!r->error[0])
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: status failed needs a non-empty "
                           "'err' saying why",
                           (unsigned long long)r->job_id);
    } else {
        return bt_errf(eb, BT_EPROTO, "wire RESULT message: status %d is neither ok nor failed",
                       (int)r->status);
    }
    if (r->has_metrics) {
        size_t i = 0;
#define S_CHECK_METRIC(name, desc)                                                                 \
    if (!isfinite(r->metrics.name))                                                                \
        return bt_errf(eb, BT_EPROTO,                                                              \
                       "wire RESULT message for job %llu: metric m[%zu] '%s' is %g; metrics "      \
                       "must be finite (a worker bug: report it)",                                 \
                       (unsigned long long)r->job_id, i, #name, r->metrics.name);                  \
    i++;
        BT_METRICS(S_CHECK_METRIC)
#undef S_CHECK_METRIC
    }
    if (r->nblk > BT_WIRE_BLK_MAX)
        return bt_errf(eb, BT_ELIMIT, "wire RESULT message: %u block statistics, the limit is %u",
                       r->nblk, BT_WIRE_BLK_MAX);
    if (r->nblk && !r->blk)
        return bt_errf(eb, BT_EINVAL, "wire RESULT message: blk is NULL");
    for (uint32_t i = 0; i < r->nblk; i++)
        if (!isfinite(r->blk[i]))
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: blk[%u] is %g; it must be finite",
                           (unsigned long long)r->job_id, i, r->blk[i]);
    return r->has_seg ? s_check_seg(r, eb) : BT_OK;
}

/* SWEEP "set": each "key=value" with a non-empty key, at most BT_WIRE_SET_MAX
 * bytes, valid UTF-8. The config loader judges the key and value. */
static bt_err_t s_check_sets(const bt_msg_sweep_t *sw, bt_errbuf_t *eb)
{
    if (sw->nsets > BT_WIRE_SETS_MAX)
        return bt_errf(eb, BT_ELIMIT, "wire SWEEP message: %u --set overrides, the limit is %u",
                       sw->nsets, BT_WIRE_SETS_MAX);
    if (sw->nsets && !sw->sets)
        return bt_errf(eb, BT_EINVAL, "wire SWEEP message: sets is NULL");
    for (uint32_t i = 0; i < sw->nsets; i++) {
        const char *o = sw->sets[i];
        if (!o)
            return bt_errf(eb, BT_EINVAL, "wire SWEEP message: set[%u] is NULL", i);
        size_t n = strlen(o);
        if (n > BT_WIRE_SET_MAX)
            return bt_errf(eb, BT_ELIMIT, "wire SWEEP message: set[%u] is %zu bytes, the limit "
                                          "is %u", i, n, BT_WIRE_SET_MAX);
        if (!bt_wire_utf8_valid((const unsigned char *)o, n))
            return bt_errf(eb, BT_EPROTO, "wire SWEEP message: set[%u] is not valid UTF-8", i);
        const char *eq = strchr(o, '=');
        if (!eq || eq == o)
            return bt_errf(eb, BT_EPROTO,
                           "wire SWEEP message: set[%u] \"%.60s\" is not key=value", i, o);
    }
    if (sw->nmcols > BT_WIRE_MCOLS_MAX)
        return bt_errf(eb, BT_ELIMIT, "wire SWEEP message: %u metric columns, the limit is %u",
                       sw->nmcols, BT_WIRE_MCOLS_MAX);
    if (sw->nmcols && !sw->mcols)
        return bt_errf(eb, BT_EINVAL, "wire SWEEP message: mcols is NULL");
    for (uint32_t i = 0; i < sw->nmcols; i++) {
        const char *c = sw->mcols[i];
        if (!c)
            return bt_errf(eb, BT_EINVAL, "wire SWEEP message: mcols[%u] is NULL", i);
        size_t n = strlen(c);
        if (n == 0 || n > BT_WIRE_MCOL_MAX || !bt_wire_utf8_valid((const unsigned char *)c, n))
            return bt_errf(eb, BT_EPROTO,
                           "wire SWEEP message: mcols[%u] is empty, longer than %u bytes or not "
                           "UTF-8",
                           i, BT_WIRE_MCOL_MAX);
    }
    return BT_OK;
}

static bt_err_t s_check_job(const bt_msg_job_t *jb, bt_errbuf_t *eb)
{
    if (jb->njobs > BT_WIRE_JOBS_MAX)
        return bt_errf(eb, BT_ELIMIT, "wire JOB message: %u jobs, the limit is %u", jb->njobs,
                       BT_WIRE_JOBS_MAX);
    if (jb->njobs && !jb->jobs)
        return bt_errf(eb, BT_EINVAL, "wire JOB message: jobs is NULL");
    for (uint32_t i = 0; i < jb->njobs; i++) {
        const bt_wire_job_t *j = &jb->jobs[i];
        if (j->nover > BT_WIRE_OVERRIDES_MAX)
            return bt_errf(eb, BT_ELIMIT,
                           "wire JOB message: jobs[%u] has %u overrides, the limit is %u", i,
                           j->nover, BT_WIRE_OVERRIDES_MAX);
        if (j->nover && !j->over)
            return bt_errf(eb, BT_EINVAL, "wire JOB message: jobs[%u].over is NULL", i);
        for (uint32_t k = 0; k < j->nover; k++) {
            const bt_wire_override_t *o = &j->over[k];
            size_t n = strlen(o->key);
            if (n == 0 || !bt_wire_utf8_valid((const unsigned char *)o->key, n))
                return bt_errf(eb, BT_EPROTO,
                               "wire JOB message: jobs[%u].o[%u] (job %llu): the key is empty or "
                               "not UTF-8",
                               i, k, (unsigned long long)j->id);
            if (!isfinite(o->value))
                return bt_errf(eb, BT_EPROTO,
                               "wire JOB message: jobs[%u].o[%u] (job %llu) '%s' = %g; override "
                               "values must be finite",
                               i, k, (unsigned long long)j->id, o->key, o->value);
            for (uint32_t q = 0; q < k; q++)
                if (strcmp(j->over[q].key, o->key) == 0)
                    return bt_errf(eb, BT_EPROTO,
                                   "wire JOB message: jobs[%u] (job %llu) sets '%s' twice (o[%u] "
                                   "and o[%u])",
                                   i, (unsigned long long)j->id, o->key, q, k);
        }
    }
    return BT_OK;
}

bt_err_t bt_wire_check(const bt_msg_t *m, bt_errbuf_t *eb)
{
    assert(m);
    bt_err_t e = BT_OK;
    switch (m->type) {
    case BT_MSG_HELLO:
        if ((e = s_check_text("HELLO", "name", m->hello.name, false, eb)) != BT_OK ||
            (e = s_check_text("HELLO", "ver", m->hello.bt_version, false, eb)) != BT_OK)
            return e;
        if (m->hello.threads < 1 || m->hello.threads > BT_WIRE_THREADS_MAX)
            return bt_errf(eb, BT_EPROTO, "wire HELLO message: field 'thr' is %u; it must be 1..%u",
                           m->hello.threads, BT_WIRE_THREADS_MAX);
        return BT_OK;
    case BT_MSG_WELCOME:
        if ((e = s_check_text("WELCOME", "sid", m->welcome.sweep_id, false, eb)) != BT_OK)
            return e;
        if (m->welcome.heartbeat_ms < 1)
            return bt_errf(eb, BT_EPROTO, "wire WELCOME message: field 'hb' must be >= 1 ms");
        if (m->welcome.lease_ms < 1)
            return bt_errf(eb, BT_EPROTO, "wire WELCOME message: field 'lease' must be >= 1 ms");
        return BT_OK;
    case BT_MSG_REFUSE:
        return s_check_text("REFUSE", "why", m->refuse.reason, false, eb);
    case BT_MSG_BYE:
        return s_check_text("BYE", "why", m->bye.reason, true, eb);
    case BT_MSG_SWEEP:
        if (m->sweep.yaml_len && !m->sweep.yaml)
            return bt_errf(eb, BT_EINVAL, "wire SWEEP message: yaml is NULL");
        if (m->sweep.yaml_len < 1 || m->sweep.yaml_len > BT_WIRE_YAML_MAX)
            return bt_errf(eb, BT_ELIMIT,
                           "wire SWEEP message: the config YAML is %zu bytes; it must be 1..%u",
                           m->sweep.yaml_len, BT_WIRE_YAML_MAX);
        if (memchr(m->sweep.yaml, '\0', m->sweep.yaml_len))
            return bt_errf(eb, BT_EPROTO,
                           "wire SWEEP message: the config YAML contains a NUL byte");
        if (!s_hex64(m->sweep.config_sha256))
            return bt_errf(eb, BT_EPROTO,
                           "wire SWEEP message: field 'sha' must be 64 lowercase hex digits");
        if (!s_hex64(m->sweep.data_hash))
            return bt_errf(eb, BT_EPROTO,
                           "wire SWEEP message: field 'dhash' must be 64 lowercase hex digits");
        if ((e = s_check_text("SWEEP", "store", m->sweep.store_path, false, eb)) != BT_OK)
            return e;
        return s_check_sets(&m->sweep, eb);
    case BT_MSG_JOB:
        return s_check_job(&m->job, eb);
    case BT_MSG_RESULT:
        return s_check_result(&m->result, eb);
    case BT_MSG_CREDIT:
        if (m->credit.credit > BT_WIRE_CREDIT_MAX)
            return bt_errf(eb, BT_ELIMIT, "wire CREDIT message: credit %u, the limit is %u",
                           m->credit.credit, BT_WIRE_CREDIT_MAX);
        return BT_OK;
    case BT_MSG_HEARTBEAT:
        return BT_OK;
    case BT_MSG_ACK:
        if (m->ack.nids > BT_WIRE_ACK_MAX)
            return bt_errf(eb, BT_ELIMIT, "wire ACK message: %u ids, the limit is %u", m->ack.nids,
                           BT_WIRE_ACK_MAX);
        return BT_OK;
    default:
        return bt_errf(eb, BT_EPROTO, "wire: message type %d is not a message type", (int)m->type);
    }
}

