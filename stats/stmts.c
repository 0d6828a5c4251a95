/*
 * stats_mysql_prepared_statements_info: live counts of prepared statements
 * by text.
 *
 * The proxy counts a client statement when a prepare succeeds and a
 * backend's statement when a connection's cache takes it; each object
 * remembers the worker table that counted it and is uncounted there when
 * freed (a backend connection may be freed on another worker after a
 * hand-over: the table's mutex makes that safe). A text whose counts both
 * reach zero leaves the table, so the table holds what is prepared now;
 * its size is bounded (STATS_STMTS_MAX) and a text that finds no room is
 * simply not counted. Lookup is a linear scan by hash: it runs on a
 * prepare, which waits for a server round trip anyway, never on an execute.
 */
#include "stats/stats_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void stmts_init(struct stmt_stats *ss)
{
    pthread_mutex_init(&ss->lock, NULL);
    ss->inited = true;
}

void stmts_free(struct stmt_stats *ss)
{
    if (!ss->inited)
        return;
    pthread_mutex_destroy(&ss->lock);
    free(ss->rows);
    memset(ss, 0, sizeof(*ss));
}

static struct admin_prepared_stmt *find(struct stmt_stats *ss, uint64_t hash)
{
    for (size_t i = 0; i < ss->n; i++)
        if (ss->rows[i].hash == hash)
            return &ss->rows[i];
    return NULL;
}

/* A new row for e (locked), or NULL when full or out of memory. */
static struct admin_prepared_stmt *add(struct stmt_stats *ss, const struct stats_stmt *e)
{
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? ss->cap * 2 : 16;
        if (cap > STATS_STMTS_MAX)
            cap = STATS_STMTS_MAX;
        if (cap == ss->cap)
            return NULL;
        struct admin_prepared_stmt *grown = realloc(ss->rows, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        ss->rows = grown;
        ss->cap = cap;
    }
    struct admin_prepared_stmt *r = &ss->rows[ss->n++];
    memset(r, 0, sizeof(*r));
    r->hash = e->hash;
    r->digest = e->digest;
    r->hostgroup = e->hostgroup;
    snprintf(r->schemaname, sizeof(r->schemaname), "%s", e->schemaname ? e->schemaname : "");
    snprintf(r->username, sizeof(r->username), "%s", e->username ? e->username : "");
    r->num_params = e->nparams;
    r->num_columns = e->ncols;
    size_t n = e->sql_len < sizeof(r->query) - 1 ? e->sql_len : sizeof(r->query) - 1;
    if (n)
        memcpy(r->query, e->sql, n);
    r->query[n] = '\0';
    return r;
}

bool stats_stmt_ref(struct stats_worker *ws, const struct stats_stmt *e, bool server)
{
    struct stmt_stats *ss = &ws->stmts;
    pthread_mutex_lock(&ss->lock);
    struct admin_prepared_stmt *r = find(ss, e->hash);
    if (!r)
        r = add(ss, e);
    if (r) {
        if (server)
            r->ref_count_server++;
        else
            r->ref_count_client++;
    }
    pthread_mutex_unlock(&ss->lock);
    return r != NULL;
}

void stats_stmt_unref(struct stats_worker *ws, uint64_t hash, bool server)
{
    struct stmt_stats *ss = &ws->stmts;
    pthread_mutex_lock(&ss->lock);
    struct admin_prepared_stmt *r = find(ss, hash);
    if (r) {
        if (server)
            r->ref_count_server--;
        else
            r->ref_count_client--;
        if (r->ref_count_server <= 0 && r->ref_count_client <= 0)
            *r = ss->rows[--ss->n];
    }
    pthread_mutex_unlock(&ss->lock);
}

/* Adds row into out[0..*m): summed with its text's row, or appended. */
static void merge_row(struct admin_prepared_stmt *out, size_t *m,
                      const struct admin_prepared_stmt *row)
{
    for (size_t j = 0; j < *m; j++) {
        if (out[j].hash == row->hash) {
            out[j].ref_count_client += row->ref_count_client;
            out[j].ref_count_server += row->ref_count_server;
            return;
        }
    }
    out[(*m)++] = *row;
}

int stats_stmts_rows(struct stats *st, struct admin_prepared_stmt **out, size_t *n)
{
    struct admin_prepared_stmt *rows = NULL;
    size_t m = 0, cap = 0;
    int rc = 0;

    *out = NULL;
    *n = 0;
    for (int i = 0; i < st->nworkers && rc == 0; i++) {
        struct stmt_stats *ss = &st->workers[i].stmts;
        pthread_mutex_lock(&ss->lock);
        if (m + ss->n > cap) {
            struct admin_prepared_stmt *grown = realloc(rows, (m + ss->n) * sizeof(*grown));
            if (grown) {
                rows = grown;
                cap = m + ss->n;
            } else {
                rc = STATS_ENOMEM;
            }
        }
        for (size_t k = 0; rc == 0 && k < ss->n; k++)
            merge_row(rows, &m, &ss->rows[k]);
        pthread_mutex_unlock(&ss->lock);
    }
    if (rc != 0) {
        free(rows);
        return rc;
    }
    *out = rows;
    *n = m;
    return 0;
}
