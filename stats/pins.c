/*
 * Why multiplexing is lost: pin-reason accounting.
 *
 * A session keeps its backend connection between statements while any pin
 * reason holds (enum stats_pin_reason). Each worker keeps, per reason, a
 * gauge of its sessions pinned for it now and a counter of the times a
 * session became pinned for it, plus a bounded table of (reason, statement
 * digest) -> count naming the statements that did it.
 *
 * The proxy does not report every change of a session's state: when a
 * command ends it works out the session's reasons and calls
 * stats_pin_update(), which compares them with what the session last
 * accounted (struct stats_pin_account), so the gauges are exact whenever a
 * session waits for its next command, and the digest is the one of the
 * command that just ran.
 *
 * stats_pin_hostgroup() keeps the per-hostgroup count of client sessions
 * behind stats_mysql_multiplexing: a session counts in the hostgroup of its
 * backend connection, or the one its last statement was routed to.
 *
 * stats_session_stats() merges every worker's figures for the admin tables.
 */
#include "stats/stats_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(sizeof(((struct admin_pin_digest *)0)->digest_text) == PIN_DIGEST_TEXT,
               "merge_digests copies whole digest texts");

static const char *const reason_names[STATS_PIN_N] = {
    [STATS_PIN_TRANSACTION] = "transaction",
    [STATS_PIN_USER_VARIABLE] = "user_variable",
    [STATS_PIN_TEMPORARY_TABLE] = "temporary_table",
    [STATS_PIN_SQL_PREPARE] = "sql_prepare",
    [STATS_PIN_SESSION_STATE] = "session_state",
    [STATS_PIN_NAMED_LOCK] = "named_lock",
    [STATS_PIN_LOCK_TABLES] = "lock_tables",
    [STATS_PIN_CURSOR] = "cursor",
    [STATS_PIN_LONG_DATA] = "long_data",
    [STATS_PIN_RULE] = "rule",
};

const char *stats_pin_reason_name(int reason)
{
    return reason >= 0 && reason < STATS_PIN_N ? reason_names[reason] : "?";
}

int pins_init(struct pin_stats *ps)
{
    ps->digests = calloc(PIN_DIGESTS, sizeof(*ps->digests));
    if (!ps->digests)
        return STATS_ENOMEM;
    pthread_mutex_init(&ps->lock, NULL);
    return 0;
}

void pins_free(struct pin_stats *ps)
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

enum stats_pin_reason stats_pin_state_reason(const char *q, size_t len)
{
    size_t i = skip_space(q, len, 0);
    size_t j = i;
    if (keyword(q, len, &j, "CREATE") && keyword(q, len, &j, "TEMPORARY"))
        return STATS_PIN_TEMPORARY_TABLE;
    j = i;
    if (keyword(q, len, &j, "PREPARE"))
        return STATS_PIN_SQL_PREPARE;
    /* EXECUTE of an SQL prepared statement is flagged too: it only runs on
     * the session that prepared it. */
    j = i;
    if (keyword(q, len, &j, "EXECUTE") || keyword(q, len, &j, "DEALLOCATE"))
        return STATS_PIN_SQL_PREPARE;
    if (has_user_var(q, len))
        return STATS_PIN_USER_VARIABLE;
    return STATS_PIN_SESSION_STATE;
}

/* ----------------------------------------------------------- accounting */

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

static void set_gauges(struct pin_stats *ps, struct stats_pin_account *acct, unsigned reasons)
{
    unsigned old = acct->reasons;
    if ((old == 0) != (reasons == 0))
        stats_count(&ps->pinned_sessions, reasons ? 1 : (uint64_t)-1);
    for (int r = 0; r < STATS_PIN_N; r++) {
        unsigned bit = STATS_PIN_BIT(r);
        if ((old & bit) && !(reasons & bit))
            stats_count(&ps->pinned_now[r], (uint64_t)-1);
        else if (!(old & bit) && (reasons & bit))
            stats_count(&ps->pinned_now[r], 1);
    }
    acct->reasons = reasons;
}

void stats_pin_update(struct stats_worker *ws, struct stats_pin_account *acct, unsigned reasons,
                      unsigned up, uint64_t digest, const char *text)
{
    struct pin_stats *ps = &ws->pins;
    if (up) {
        pthread_mutex_lock(&ps->lock);
        for (int r = 0; r < STATS_PIN_N; r++)
            if (up & STATS_PIN_BIT(r)) {
                stats_count(&ps->events[r], 1);
                digest_add(ps, r, digest, text);
            }
        pthread_mutex_unlock(&ps->lock);
    }
    set_gauges(ps, acct, reasons);
}

void stats_pin_hostgroup(struct stats_worker *ws, struct stats_pin_account *acct, int hg)
{
    struct pin_stats *ps = &ws->pins;
    if (acct->mux_slot >= 0 && hg >= 0 && ps->hostgroups[acct->mux_slot].hostgroup == hg)
        return;
    if (acct->mux_slot >= 0)
        stats_count(&ps->hostgroups[acct->mux_slot].sessions, (uint64_t)-1);
    acct->mux_slot = -1;
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
    stats_count(&ps->hostgroups[slot].sessions, 1);
    acct->mux_slot = slot;
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
static int merge_digests(const struct stats *st, struct admin_session_stats *out)
{
    size_t cap = (size_t)st->nworkers * PIN_DIGESTS, n = 0;
    struct pin_digest *all = malloc(cap * sizeof(*all));
    if (!all)
        return STATS_ENOMEM;
    for (int i = 0; i < st->nworkers; i++) {
        struct pin_stats *ps = &st->workers[i].pins;
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
        return STATS_ENOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct admin_pin_digest *d = &out->digests[m];
        if (m > 0 && i > 0 && cmp_digest_key(&all[i], &all[i - 1]) == 0) {
            out->digests[m - 1].count += all[i].count;
            continue;
        }
        snprintf(d->reason, sizeof(d->reason), "%s", stats_pin_reason_name(all[i].reason));
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

static int merge_hostgroups(const struct stats *st, struct admin_session_stats *out)
{
    out->hostgroups = calloc((size_t)st->nworkers * MUX_HOSTGROUPS, sizeof(*out->hostgroups));
    if (!out->hostgroups)
        return STATS_ENOMEM;
    size_t m = 0;
    for (int i = 0; i < st->nworkers; i++) {
        struct pin_stats *ps = &st->workers[i].pins;
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

int stats_session_stats(const struct stats *st, struct admin_session_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->reasons = calloc(STATS_PIN_N, sizeof(*out->reasons));
    if (!out->reasons)
        return STATS_ENOMEM;
    out->n_reasons = STATS_PIN_N;
    for (int r = 0; r < STATS_PIN_N; r++) {
        struct admin_pin_reason *a = &out->reasons[r];
        snprintf(a->reason, sizeof(a->reason), "%s", reason_names[r]);
        for (int i = 0; i < st->nworkers; i++) {
            struct pin_stats *ps = &st->workers[i].pins;
            a->pinned_now += __atomic_load_n(&ps->pinned_now[r], __ATOMIC_RELAXED);
            a->total += __atomic_load_n(&ps->events[r], __ATOMIC_RELAXED);
        }
    }
    if (merge_digests(st, out) != 0 || merge_hostgroups(st, out) != 0) {
        stats_session_free(out);
        return STATS_ENOMEM;
    }
    return 0;
}

void stats_session_free(struct admin_session_stats *st)
{
    free(st->reasons);
    free(st->digests);
    free(st->hostgroups);
    memset(st, 0, sizeof(*st));
}
