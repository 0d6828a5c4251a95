/*
 * stats_mysql_errors: a bounded table of errors per worker.
 *
 * The proxy calls stats_error_record() when a backend answers a client's
 * command with an ERR packet and when a backend connect fails; nothing runs
 * here while commands succeed. Each worker has its own table, so the only
 * contention on its mutex is a reader merging the tables (the admin thread,
 * when stats_mysql_errors is read).
 *
 * A key is (hostgroup, hostname, port, username, client_address,
 * schemaname, errno). The table holds STATS_ERRORS_MAX keys; a new key in a
 * full table replaces the least counted one, as the pin digest table does,
 * so a storm of distinct errors cannot grow memory and the frequent ones
 * stay. Lookup is a linear scan: it runs only on an error, and 1,000
 * integer compares cost less than the error's round trip.
 */
#include "stats/stats_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void errors_init(struct error_stats *es)
{
    pthread_mutex_init(&es->lock, NULL);
    es->inited = true;
}

void errors_free(struct error_stats *es)
{
    if (!es->inited)
        return;
    pthread_mutex_destroy(&es->lock);
    free(es->rows);
    es->rows = NULL;
    es->n = 0;
    es->inited = false;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* The key of e written into row (its figures untouched). */
static void set_key(struct admin_mysql_error *row, const struct stats_error *e)
{
    row->hostgroup = e->hostgroup;
    copy_str(row->hostname, sizeof(row->hostname), e->hostname);
    row->port = e->port;
    copy_str(row->username, sizeof(row->username), e->username);
    copy_str(row->client_address, sizeof(row->client_address), e->client_address);
    copy_str(row->schemaname, sizeof(row->schemaname), e->schemaname);
    row->err_no = e->err_no;
}

/* Same key: the integers first, they differ most often. Strings compare
 * as stored (cut to their column), so a key that was cut still matches. */
static bool same_key(const struct admin_mysql_error *a, const struct admin_mysql_error *b)
{
    return a->hostgroup == b->hostgroup && a->port == b->port && a->err_no == b->err_no &&
           strcmp(a->hostname, b->hostname) == 0 && strcmp(a->username, b->username) == 0 &&
           strcmp(a->client_address, b->client_address) == 0 &&
           strcmp(a->schemaname, b->schemaname) == 0;
}

/* The row of key in es (locked), a new one, or the least counted one
 * emptied for it; NULL only when the table cannot be allocated. */
static struct admin_mysql_error *slot(struct error_stats *es, const struct admin_mysql_error *key)
{
    if (!es->rows) {
        es->rows = calloc(STATS_ERRORS_MAX, sizeof(*es->rows));
        if (!es->rows)
            return NULL;
    }
    size_t least = 0;
    for (size_t i = 0; i < es->n; i++) {
        if (same_key(&es->rows[i], key))
            return &es->rows[i];
        if (es->rows[i].count_star < es->rows[least].count_star)
            least = i;
    }
    struct admin_mysql_error *row =
        es->n < STATS_ERRORS_MAX ? &es->rows[es->n++] : &es->rows[least];
    *row = *key;
    return row;
}

void stats_error_record(struct stats_worker *ws, const struct stats_error *e, int64_t now)
{
    struct error_stats *es = &ws->errors;
    struct admin_mysql_error key;

    memset(&key, 0, sizeof(key));
    set_key(&key, e);
    pthread_mutex_lock(&es->lock);
    struct admin_mysql_error *row = slot(es, &key);
    if (row) {
        if (row->count_star++ == 0)
            row->first_seen = now;
        row->last_seen = now;
        size_t n =
            e->msg_len < sizeof(row->last_error) - 1 ? e->msg_len : sizeof(row->last_error) - 1;
        if (n)
            memcpy(row->last_error, e->msg, n);
        row->last_error[n] = '\0';
    }
    pthread_mutex_unlock(&es->lock);
}

/* Adds row into out[0..*m): summed with its key's row, or appended. */
static void merge_row(struct admin_mysql_error *out, size_t *m, const struct admin_mysql_error *row)
{
    for (size_t j = 0; j < *m; j++) {
        struct admin_mysql_error *o = &out[j];
        if (!same_key(o, row))
            continue;
        o->count_star += row->count_star;
        if (row->first_seen < o->first_seen)
            o->first_seen = row->first_seen;
        if (row->last_seen >= o->last_seen) {
            o->last_seen = row->last_seen;
            memcpy(o->last_error, row->last_error, sizeof(o->last_error));
        }
        return;
    }
    out[(*m)++] = *row;
}

int stats_errors_rows(struct stats *st, bool reset, struct admin_mysql_error **out, size_t *n)
{
    /* Room for every worker's whole table: the merge allocates nothing
     * while it holds a worker's lock. */
    size_t cap = (size_t)st->nworkers * STATS_ERRORS_MAX;
    struct admin_mysql_error *rows = calloc(cap ? cap : 1, sizeof(*rows));
    size_t m = 0;

    *out = NULL;
    *n = 0;
    if (!rows)
        return STATS_ENOMEM;
    for (int i = 0; i < st->nworkers; i++) {
        struct error_stats *es = &st->workers[i].errors;
        pthread_mutex_lock(&es->lock);
        for (size_t k = 0; k < es->n; k++)
            merge_row(rows, &m, &es->rows[k]);
        if (reset)
            es->n = 0;
        pthread_mutex_unlock(&es->lock);
    }
    *out = rows;
    *n = m;
    return 0;
}
