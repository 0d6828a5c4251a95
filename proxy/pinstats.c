/*
 * Why multiplexing is lost: pin-reason accounting.
 *
 * A session keeps its backend connection between statements while any PIN_*
 * bit is set or a transaction is open. Each worker keeps, per reason
 * (enum pin_reason), a gauge of its sessions pinned for it now and a counter
 * of the times a session became pinned for it, plus a bounded table of
 * (reason, statement digest) -> count naming the statements that did it.
 *
 * The session does not report every change of its bits: pinstats_account()
 * runs when a command ends (session_command_done) and compares the bits with
 * what the session last accounted (s->pin_reasons), so the gauges are exact
 * whenever a session waits for its next command, and the digest is the one
 * of the command that just ran. pinstats_forget() removes a closing session.
 *
 * The same pass keeps the per-hostgroup count of client sessions behind
 * stats_mysql_multiplexing: a session counts in the hostgroup of its backend
 * connection, or the one its last statement was routed to.
 *
 * proxy_session_stats() merges every worker's figures for the admin tables
 * and the metrics endpoint.
 */
#include "common/common.h"
#include "proxy/proxy.h"
#include "proxy/proxy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(sizeof(((struct admin_pin_digest *)0)->digest_text) == PIN_DIGEST_TEXT,
               "merge_digests copies whole digest texts");

static const char *const reason_names[PR_N] = {
    [PR_TRANSACTION] = "transaction",
    [PR_USER_VARIABLE] = "user_variable",
    [PR_TEMPORARY_TABLE] = "temporary_table",
    [PR_SQL_PREPARE] = "sql_prepare",
    [PR_SESSION_STATE] = "session_state",
    [PR_NAMED_LOCK] = "named_lock",
    [PR_LOCK_TABLES] = "lock_tables",
    [PR_CURSOR] = "cursor",
    [PR_LONG_DATA] = "long_data",
    [PR_RULE] = "rule",
};

const char *pinstats_reason_name(int reason)
{
    return reason >= 0 && reason < PR_N ? reason_names[reason] : "?";
}

int pinstats_init(struct pin_stats *ps)
{
    ps->digests = calloc(PIN_DIGESTS, sizeof(*ps->digests));
    if (!ps->digests)
        return -1;
    pthread_mutex_init(&ps->lock, NULL);
    return 0;
}

void pinstats_free(struct pin_stats *ps)
{
    if (!ps->digests)
        return;
    pthread_mutex_destroy(&ps->lock);
    free(ps->digests);
    ps->digests = NULL;
}

/* ------------------------------------------------------ classification */

/* Skips blanks and comments at the start of a statement. */
static size_t skip_space(const char *q, size_t len, size_t i)
{
    for (;;) {
        while (i < len && (q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r'))
            i++;
        if (i + 1 < len && q[i] == '/' && q[i + 1] == '*') {
            const char *end = memmem(q + i + 2, len - i - 2, "*/", 2);
            if (!end)
                return len;
            i = (size_t)(end - q) + 2;
            continue;
        }
        return i;
    }
}

/* Matches keyword kw (upper case) at q[i], followed by a non-word byte. */
static bool keyword(const char *q, size_t len, size_t *i, const char *kw)
{
    size_t n = strlen(kw);
    if (len - *i < n || strncasecmp(q + *i, kw, n) != 0)
        return false;
    if (*i + n < len) {
        char c = q[*i + n];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
            return false;
    }
    *i = skip_space(q, len, *i + n);
    return true;
}

/* A user variable outside quotes: '@' not part of "@@". */
static bool has_user_var(const char *q, size_t len)
{
    char quote = 0;
    for (size_t i = 0; i < len; i++) {
        char c = q[i];
        if (quote) {
            if (c == '\\' && quote != '`')
                i++;
            else if (c == quote)
                quote = 0;
        } else if (c == '\'' || c == '"' || c == '`') {
            quote = c;
        } else if (c == '@' && (i + 1 >= len || q[i + 1] != '@') && (i == 0 || q[i - 1] != '@')) {
            return true;
        }
    }
    return false;
}

enum pin_reason pinstats_state_reason(const char *q, size_t len)
{
    size_t i = skip_space(q, len, 0);
    size_t j = i;
    if (keyword(q, len, &j, "CREATE") && keyword(q, len, &j, "TEMPORARY"))
        return PR_TEMPORARY_TABLE;
    j = i;
    if (keyword(q, len, &j, "PREPARE"))
        return PR_SQL_PREPARE;
    /* EXECUTE of an SQL prepared statement is flagged too: it only runs on
     * the session that prepared it. */
    j = i;
    if (keyword(q, len, &j, "EXECUTE") || keyword(q, len, &j, "DEALLOCATE"))
        return PR_SQL_PREPARE;
    if (has_user_var(q, len))
        return PR_USER_VARIABLE;
    return PR_SESSION_STATE;
}

/* ----------------------------------------------------------- accounting */

static unsigned current_reasons(const struct session *s)
{
    static const struct {
        unsigned pin;
        enum pin_reason reason;
    } map[] = {
        {PIN_NAMED_LOCK, PR_NAMED_LOCK},
        {PIN_LOCK_TABLES, PR_LOCK_TABLES},
        {PIN_CURSOR, PR_CURSOR},
        {PIN_LONG_DATA, PR_LONG_DATA},
        {PIN_RULE, PR_RULE},
    };
    unsigned r = s->in_txn ? PIN_REASON_BIT(PR_TRANSACTION) : 0;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (s->pin & map[i].pin)
            r |= PIN_REASON_BIT(map[i].reason);
    if (s->pin & PIN_SESSION_STATE)
        r |= s->state_reasons ? s->state_reasons : PIN_REASON_BIT(PR_SESSION_STATE);
    return r;
}

/* The text of the command in flight, or NULL when it has none. */
static const char *command_text(const struct session *s, size_t *len)
{
    if (s->cmd == CODEC_COM_QUERY && s->cmd_len > 5) {
        size_t n = codec_u24(s->in.data);
        *len = n ? n - 1 : 0;
        return (const char *)s->in.data + 5;
    }
    if (s->cur_stmt && s->cmd != CODEC_COM_STMT_PREPARE) {
        *len = s->cur_stmt->sql_len;
        return s->cur_stmt->sql;
    }
    return NULL;
}

/* Caller holds ps->lock. The least counted entry makes room for a new one,
 * so statements that pin often stay while one-offs come and go. */
static void digest_add(struct pin_stats *ps, int reason, uint64_t digest, const char *text)
{
    size_t victim = 0;
    for (size_t i = 0; i < ps->n_digests; i++) {
        struct pin_digest *d = &ps->digests[i];
        if (d->digest == digest && d->reason == reason) {
            d->count++;
            return;
        }
        if (d->count < ps->digests[victim].count)
            victim = i;
    }
    if (ps->n_digests < PIN_DIGESTS)
        victim = ps->n_digests++;
    struct pin_digest *d = &ps->digests[victim];
    d->count = 1;
    d->digest = digest;
    d->reason = reason;
    /* Digest texts are cut at PIN_DIGEST_TEXT - 1 bytes, like the query
     * digest table's. */
    size_t n = strnlen(text, sizeof(d->text) - 1);
    memcpy(d->text, text, n);
    d->text[n] = '\0';
}

static void record_events(struct session *s, unsigned up)
{
    struct worker *w = s->worker;
    struct pin_stats *ps = &w->pins;
    size_t len = 0;
    const char *q = command_text(s, &len);
    uint64_t digest = 0;
    char name[32];
    const char *text = name;
    if (q) {
        router_digest(q, len, w->digest_text, sizeof(w->digest_text),
                      (size_t)s->cfg->digest_max_len, &digest);
        text = w->digest_text;
    } else {
        snprintf(name, sizeof(name), "(command 0x%02x)", (unsigned)s->cmd);
    }
    pthread_mutex_lock(&ps->lock);
    for (int r = 0; r < PR_N; r++)
        if (up & PIN_REASON_BIT(r)) {
            proxy_count(&ps->events[r], 1);
            digest_add(ps, r, digest, text);
        }
    pthread_mutex_unlock(&ps->lock);
}

static void set_gauges(struct session *s, unsigned reasons)
{
    struct pin_stats *ps = &s->worker->pins;
    unsigned old = s->pin_reasons;
    if ((old == 0) != (reasons == 0))
        proxy_count(&ps->pinned_sessions, reasons ? 1 : (uint64_t)-1);
    for (int r = 0; r < PR_N; r++) {
        unsigned bit = PIN_REASON_BIT(r);
        if ((old & bit) && !(reasons & bit))
            proxy_count(&ps->pinned_now[r], (uint64_t)-1);
        else if (!(old & bit) && (reasons & bit))
            proxy_count(&ps->pinned_now[r], 1);
    }
    s->pin_reasons = reasons;
}

/* Moves the session's count to hostgroup hg (-1: none). */
static void mux_move(struct session *s, int hg)
{
    struct pin_stats *ps = &s->worker->pins;
    if (s->mux_slot >= 0 && hg >= 0 && ps->hostgroups[s->mux_slot].hostgroup == hg)
        return;
    if (s->mux_slot >= 0)
        proxy_count(&ps->hostgroups[s->mux_slot].sessions, (uint64_t)-1);
    s->mux_slot = -1;
    if (hg < 0)
        return;
    int n = ps->n_hostgroups;
    int slot = -1;
    for (int i = 0; i < n && slot < 0; i++)
        if (ps->hostgroups[i].hostgroup == hg)
            slot = i;
    if (slot < 0) {
        if (n == MUX_HOSTGROUPS)
            return; /* more hostgroups than slots: the rest go uncounted */
        ps->hostgroups[n].hostgroup = hg;
        __atomic_store_n(&ps->n_hostgroups, n + 1, __ATOMIC_RELEASE);
        slot = n;
    }
    proxy_count(&ps->hostgroups[slot].sessions, 1);
    s->mux_slot = slot;
}

void pinstats_account(struct session *s)
{
    if (!(s->pin & PIN_SESSION_STATE))
        s->state_reasons = 0;
    unsigned now = current_reasons(s);
    unsigned had = s->pin_reasons;
    if (s->resp.txn_gap) {
        /* The transaction ended and another began within one command: the
         * new one is young, whatever the session's bits say. */
        s->resp.txn_gap = false;
        had &= ~PIN_REASON_BIT(PR_TRANSACTION);
    }
    /* Compared with had for the events, with what the gauges hold for the
     * gauges: after a plain COMMIT (a result outside a transaction, so
     * txn_gap) had lost the transaction bit but the gauge still counts it. */
    if (now != had || now != s->pin_reasons) {
        unsigned up = now & ~had;
        if (up & PIN_REASON_BIT(PR_TRANSACTION))
            s->txn_start_ns = s->started_ns;
        if (up)
            record_events(s, up);
        set_gauges(s, now);
    }
    if (s->user)
        mux_move(s, s->conn ? pool_conn_hostgroup(s->conn) : s->hostgroup);
}

void pinstats_forget(struct session *s)
{
    set_gauges(s, 0);
    mux_move(s, -1);
}

/* ---------------------------------------------------------------- merge */

static int cmp_digest_key(const void *a, const void *b)
{
    const struct pin_digest *x = a, *y = b;
    if (x->reason != y->reason)
        return x->reason < y->reason ? -1 : 1;
    return x->digest < y->digest ? -1 : x->digest > y->digest;
}

static int cmp_admin_digest(const void *a, const void *b)
{
    const struct admin_pin_digest *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->reason, y->reason);
}

/* Copies every worker's digest table (under its lock), then merges equal
 * (reason, digest) keys. */
static int merge_digests(struct proxy *p, struct admin_session_stats *out)
{
    size_t cap = (size_t)p->nworkers * PIN_DIGESTS, n = 0;
    struct pin_digest *all = malloc(cap * sizeof(*all));
    if (!all)
        return -1;
    for (int i = 0; i < p->nworkers; i++) {
        struct pin_stats *ps = &p->workers[i].pins;
        if (!ps->digests)
            continue;
        pthread_mutex_lock(&ps->lock);
        memcpy(all + n, ps->digests, ps->n_digests * sizeof(*all));
        n += ps->n_digests;
        pthread_mutex_unlock(&ps->lock);
    }
    qsort(all, n, sizeof(*all), cmp_digest_key);
    out->digests = calloc(n ? n : 1, sizeof(*out->digests));
    if (!out->digests) {
        free(all);
        return -1;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct admin_pin_digest *d = &out->digests[m];
        if (m > 0 && i > 0 && cmp_digest_key(&all[i], &all[i - 1]) == 0) {
            out->digests[m - 1].count += all[i].count;
            continue;
        }
        snprintf(d->reason, sizeof(d->reason), "%s", pinstats_reason_name(all[i].reason));
        d->digest = all[i].digest;
        d->count = all[i].count;
        memcpy(d->digest_text, all[i].text, sizeof(d->digest_text));
        m++;
    }
    free(all);
    qsort(out->digests, m, sizeof(*out->digests), cmp_admin_digest);
    out->n_digests = m;
    return 0;
}

static int merge_hostgroups(struct proxy *p, struct admin_session_stats *out)
{
    out->hostgroups = calloc((size_t)p->nworkers * MUX_HOSTGROUPS, sizeof(*out->hostgroups));
    if (!out->hostgroups)
        return -1;
    size_t m = 0;
    for (int i = 0; i < p->nworkers; i++) {
        struct pin_stats *ps = &p->workers[i].pins;
        int n = __atomic_load_n(&ps->n_hostgroups, __ATOMIC_ACQUIRE);
        for (int k = 0; k < n; k++) {
            int hg = ps->hostgroups[k].hostgroup;
            uint64_t v = __atomic_load_n(&ps->hostgroups[k].sessions, __ATOMIC_RELAXED);
            size_t j = 0;
            while (j < m && out->hostgroups[j].hostgroup != hg)
                j++;
            if (j == m) {
                out->hostgroups[m].hostgroup = hg;
                m++;
            }
            out->hostgroups[j].client_sessions += v;
        }
    }
    out->n_hostgroups = m;
    return 0;
}

int proxy_session_stats(void *proxy, struct admin_session_stats *out)
{
    struct proxy *p = proxy;
    memset(out, 0, sizeof(*out));
    out->reasons = calloc(PR_N, sizeof(*out->reasons));
    if (!out->reasons)
        return -1;
    out->n_reasons = PR_N;
    for (int r = 0; r < PR_N; r++) {
        struct admin_pin_reason *a = &out->reasons[r];
        snprintf(a->reason, sizeof(a->reason), "%s", reason_names[r]);
        for (int i = 0; i < p->nworkers; i++) {
            struct pin_stats *ps = &p->workers[i].pins;
            a->pinned_now += __atomic_load_n(&ps->pinned_now[r], __ATOMIC_RELAXED);
            a->total += __atomic_load_n(&ps->events[r], __ATOMIC_RELAXED);
        }
    }
    if (merge_digests(p, out) != 0 || merge_hostgroups(p, out) != 0) {
        proxy_session_stats_free(p, out);
        return -1;
    }
    return 0;
}

void proxy_session_stats_free(void *proxy, struct admin_session_stats *st)
{
    (void)proxy;
    free(st->reasons);
    free(st->digests);
    free(st->hostgroups);
    memset(st, 0, sizeof(*st));
}
