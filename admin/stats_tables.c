/*
 * The stats tables of the admin interface (ProxySQL's stats_mysql_*):
 * ordinary MEMORY tables whose rows are replaced, just before a statement
 * that reads them runs, by figures the other modules keep:
 *
 *   stats_mysql_query_digest        router_digest_stats_merge() of every
 *                                   worker's digest statistics
 *   stats_mysql_query_digest_reset  the same merge with reset: reading it
 *                                   returns the rows and zeroes the counters
 *   stats_mysql_connection_pool     pool_server_stats() of every server
 *   stats_mysql_pin_reasons         the proxy's session figures
 *   stats_mysql_pin_digests         (admin_sources.session_stats): why
 *   stats_mysql_multiplexing        sessions keep a backend, and client
 *                                   sessions per hostgroup, the latter
 *                                   beside pool's connections lent now
 *   stats_mysql_query_rules,        the proxy's figures
 *   stats_mysql_global,             (admin_sources.proxy_stats), filled by
 *   stats_mysql_commands_counters,  stats_proxy.c
 *   stats_mysql_processlist
 *
 * Flow: the authorizer (sandbox.c) sees, while an operator's statement is prepared,
 * which of these tables it reads (SQLITE_READ, so views and subqueries count
 * and a name inside a string literal does not); run_sql() then calls
 * admin_stats_refresh() for exactly those before the first step. A refresh
 * is DELETE plus one prepared INSERT per row inside a savepoint, so it is all
 * or nothing and works inside an operator's BEGIN as well. Because only
 * tables that are read are refreshed, reading stats_mysql_query_digest never
 * resets anything.
 *
 * Keeping real tables (rather than virtual tables) lets operators use all of
 * SQL on them, as on ProxySQL: WHERE, ORDER BY, joins, INSERT ... SELECT into
 * their own tables. Writes by operators are refused by the authorizer (sandbox.c):
 * the rows would be replaced at the next read anyway.
 */
#include "admin/admin_int.h"
#include "pool/pool.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct stats_table {
    const char *name;
    unsigned bit; /* ADMIN_STATS_* */
    const char *columns;
};

/*
 * Digest columns: ProxySQL 2.x's, then Sluice's percentiles (microseconds,
 * like sum_time; see router.h for their accuracy). ProxySQL's PRIMARY KEY
 * is left out on purpose: the router keys schema and user by a hash of the
 * whole name but keeps only ROUTER_DIGEST_NAME_MAX bytes for display, so two
 * long names sharing a prefix give two rows that would collide on it.
 */
#define DIGEST_COLUMNS                                                                             \
    "hostgroup INT,"                                                                               \
    " schemaname VARCHAR NOT NULL,"                                                                \
    " username VARCHAR NOT NULL,"                                                                  \
    " client_address VARCHAR NOT NULL,"                                                            \
    " digest VARCHAR NOT NULL,"                                                                    \
    " digest_text VARCHAR NOT NULL,"                                                               \
    " count_star INTEGER NOT NULL,"                                                                \
    " first_seen INTEGER NOT NULL,"                                                                \
    " last_seen INTEGER NOT NULL,"                                                                 \
    " sum_time INTEGER NOT NULL,"                                                                  \
    " min_time INTEGER NOT NULL,"                                                                  \
    " max_time INTEGER NOT NULL,"                                                                  \
    " sum_rows_affected INTEGER NOT NULL,"                                                         \
    " sum_rows_sent INTEGER NOT NULL,"                                                             \
    " p50_time INTEGER NOT NULL,"                                                                  \
    " p95_time INTEGER NOT NULL,"                                                                  \
    " p99_time INTEGER NOT NULL"

static const struct stats_table stats_tables[] = {
    {"stats_mysql_query_digest", ADMIN_STATS_DIGEST, DIGEST_COLUMNS},
    {"stats_mysql_query_digest_reset", ADMIN_STATS_DIGEST_RESET, DIGEST_COLUMNS},
    /* ProxySQL 2.x's columns (Queries_GTID_sync included, so tools that read
     * by position line up), then Sluice's max_connections and Queue. */
    {"stats_mysql_connection_pool", ADMIN_STATS_POOL,
     "hostgroup INT,"
     " srv_host VARCHAR,"
     " srv_port INT,"
     " status VARCHAR,"
     " ConnUsed INT,"
     " ConnFree INT,"
     " ConnOK INT,"
     " ConnERR INT,"
     " MaxConnUsed INT,"
     " Queries INT,"
     " Queries_GTID_sync INT,"
     " Bytes_data_sent INT,"
     " Bytes_data_recv INT,"
     " Latency_us INT,"
     " max_connections INT,"
     " Queue INT,"
     " Queue_wait_p50_us INT,"
     " Queue_wait_p99_us INT,"
     " Exhausted INT,"
     " FailFast INT,"
     " ConnCreated_last_min INT,"
     " Idle_ratio REAL,"
     " weight INT"},
    /* Little's law per server over the last minute; see README "Pool advisor". */
    {"stats_mysql_pool_advisor", ADMIN_STATS_ADVISOR,
     "hostgroup INT,"
     " srv_host VARCHAR,"
     " srv_port INT,"
     " borrows_per_sec REAL,"
     " avg_hold_us REAL,"
     " avg_in_use REAL,"
     " peak_in_use INT,"
     " suggested_connections INT,"
     " max_connections INT"},
    {"stats_mysql_pin_reasons", ADMIN_STATS_PIN_REASONS,
     "reason VARCHAR NOT NULL,"
     " pinned_now INTEGER NOT NULL,"
     " total INTEGER NOT NULL"},
    {"stats_mysql_pin_digests", ADMIN_STATS_PIN_DIGESTS,
     "reason VARCHAR NOT NULL,"
     " digest VARCHAR NOT NULL,"
     " digest_text VARCHAR NOT NULL,"
     " count_star INTEGER NOT NULL"},
    {"stats_mysql_multiplexing", ADMIN_STATS_MULTIPLEXING,
     "hostgroup INT NOT NULL,"
     " client_sessions INTEGER NOT NULL,"
     " backends_in_use INTEGER NOT NULL,"
     " sessions_per_backend REAL"},
};

#define N_STATS (sizeof(stats_tables) / sizeof(stats_tables[0]))

void admin_store_set_sources(struct admin_store *store, const struct admin_sources *src)
{
    if (!store)
        return;
    if (src)
        store->sources = *src;
    else
        memset(&store->sources, 0, sizeof(store->sources));
}

unsigned admin_stats_table(const char *name)
{
    /* SQLite names are case-insensitive; the authorizer may pass either. */
    for (size_t i = 0; i < N_STATS; i++)
        if (strcasecmp(name, stats_tables[i].name) == 0)
            return stats_tables[i].bit;
    return admin_stats_proxy_table(name);
}

/* Runs one internal statement built with sqlite3_mprintf (NULL on OOM). */
int admin_stats_exec(sqlite3 *db, char *sql, char *errbuf, size_t errlen, const char *what)
{
    int rc = 0;

    if (!sql) {
        admin_set_error(errbuf, errlen, "%s: out of memory", what);
        return ADMIN_ENOMEM;
    }
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "%s: %s", what, sqlite3_errmsg(db));
        rc = ADMIN_ESQL;
    }
    sqlite3_free(sql);
    return rc;
}

int admin_stats_create(sqlite3 *db, char *errbuf, size_t errlen)
{
    int rc = 0;

    for (size_t i = 0; i < N_STATS && rc == 0; i++)
        rc = admin_stats_exec(db,
                              sqlite3_mprintf("CREATE TABLE IF NOT EXISTS main.%s (%s)",
                                              stats_tables[i].name, stats_tables[i].columns),
                              errbuf, errlen, "cannot create stats tables");
    if (rc == 0)
        rc = admin_stats_proxy_create(db, errbuf, errlen);
    return rc;
}

/* SQLite integers are signed; a counter past INT64_MAX (never in practice)
 * shows as the largest value rather than a negative one. */
sqlite3_int64 admin_stats_i64(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

/* Prepares "INSERT INTO main.<table> (<cols>) VALUES (?, ...)" for n values
 * (cols NULL: every column, in table order). */
int admin_stats_prepare_insert(sqlite3 *db, const char *table, const char *cols, int n,
                               sqlite3_stmt **out, char *errbuf, size_t errlen)
{
    char marks[64];
    size_t len = 0;
    char *sql;
    int rc = 0;

    for (int i = 0; i < n && len + 3 < sizeof(marks); i++) {
        if (i)
            marks[len++] = ',';
        marks[len++] = '?';
    }
    marks[len] = '\0';
    sql = cols ? sqlite3_mprintf("INSERT INTO main.%s (%s) VALUES (%s)", table, cols, marks)
               : sqlite3_mprintf("INSERT INTO main.%s VALUES (%s)", table, marks);
    if (!sql || sqlite3_prepare_v2(db, sql, -1, out, NULL) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "cannot fill %s: %s", table,
                        sql ? sqlite3_errmsg(db) : "out of memory");
        rc = sql ? ADMIN_ESQL : ADMIN_ENOMEM;
    }
    sqlite3_free(sql);
    return rc;
}

/* Steps a bound INSERT and resets it for the next row. */
int admin_stats_insert_row(sqlite3 *db, sqlite3_stmt *ins, const char *table, char *errbuf,
                           size_t errlen)
{
    int rc = 0;

    if (sqlite3_step(ins) != SQLITE_DONE) {
        admin_set_error(errbuf, errlen, "cannot fill %s: %s", table, sqlite3_errmsg(db));
        rc = ADMIN_ESQL;
    }
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    return rc;
}

static void bind_text(sqlite3_stmt *ins, int col, const char *text)
{
    /* The merge or the caller's buffer outlives the step: no copy needed. */
    sqlite3_bind_text(ins, col, text ? text : "", -1, SQLITE_STATIC);
}

static void bind_digest_row(sqlite3_stmt *ins, const struct router_digest_row *r, char *hex,
                            size_t hexlen)
{
    /* ProxySQL shows the digest as 0x and 16 upper-case hex digits. */
    snprintf(hex, hexlen, "0x%016" PRIX64, r->digest);
    sqlite3_bind_int(ins, 1, r->hostgroup);
    bind_text(ins, 2, r->schemaname);
    bind_text(ins, 3, r->username);
    bind_text(ins, 4, r->client_address);
    bind_text(ins, 5, hex);
    bind_text(ins, 6, r->digest_text);
    sqlite3_bind_int64(ins, 7, admin_stats_i64(r->count_star));
    sqlite3_bind_int64(ins, 8, r->first_seen);
    sqlite3_bind_int64(ins, 9, r->last_seen);
    sqlite3_bind_int64(ins, 10, admin_stats_i64(r->sum_time));
    sqlite3_bind_int64(ins, 11, admin_stats_i64(r->min_time));
    sqlite3_bind_int64(ins, 12, admin_stats_i64(r->max_time));
    sqlite3_bind_int64(ins, 13, admin_stats_i64(r->sum_rows_affected));
    sqlite3_bind_int64(ins, 14, admin_stats_i64(r->sum_rows_sent));
    sqlite3_bind_int64(ins, 15, admin_stats_i64(r->p50_time));
    sqlite3_bind_int64(ins, 16, admin_stats_i64(r->p95_time));
    sqlite3_bind_int64(ins, 17, admin_stats_i64(r->p99_time));
}

/* Fills a digest table from a merge of every worker's statistics. The merge
 * comes first: if it fails nothing was reset and the table is unchanged.
 * With reset, rows that then fail to be written are lost, as a reset that
 * cannot be undone must be. */
static int fill_digest(sqlite3 *db, const struct admin_sources *src, const char *table, bool reset,
                       char *errbuf, size_t errlen)
{
    static const char cols[] =
        "hostgroup, schemaname, username, client_address, digest, digest_text, count_star,"
        " first_seen, last_seen, sum_time, min_time, max_time, sum_rows_affected,"
        " sum_rows_sent, p50_time, p95_time, p99_time";
    struct router_digest_merge *m = NULL;
    struct router_digest_row row;
    sqlite3_stmt *ins = NULL;
    char hex[24];
    int rc;

    if (src->digest_stats && src->n_digest_stats > 0 &&
        router_digest_stats_merge(src->digest_stats, src->n_digest_stats, reset, &m) != 0) {
        admin_set_error(errbuf, errlen, "cannot fill %s: out of memory", table);
        return ADMIN_ENOMEM;
    }
    rc = admin_stats_exec(db, sqlite3_mprintf("DELETE FROM main.%s", table), errbuf, errlen,
                          "cannot clear a stats table");
    if (rc != 0 || !m)
        goto out;
    rc = admin_stats_prepare_insert(db, table, cols, 17, &ins, errbuf, errlen);
    while (rc == 0 && router_digest_merge_next(m, &row)) {
        bind_digest_row(ins, &row, hex, sizeof(hex));
        rc = admin_stats_insert_row(db, ins, table, errbuf, errlen);
    }
out:
    sqlite3_finalize(ins);
    router_digest_merge_free(m);
    return rc;
}

static void bind_pool_row(sqlite3_stmt *ins, const struct pool_server_stats *st, const char *host,
                          int port, const char *status)
{
    sqlite3_bind_int(ins, 1, st->hostgroup);
    bind_text(ins, 2, host);
    sqlite3_bind_int(ins, 3, port);
    static const char *const status_names[] = {"ONLINE", "SHUNNED", "OFFLINE_SOFT", "OFFLINE_HARD"};
    /* The monitor shuns for ping or lag (the pool may then hold the server
     * OFFLINE_HARD to cut hung statements); the pool shuns for connect
     * errors. Either one's non-ONLINE verdict is the one to show. */
    if (status && strcmp(status, "ONLINE") != 0)
        bind_text(ins, 4, status);
    else
        bind_text(ins, 4, status_names[st->status <= POOL_SERVER_OFFLINE_HARD ? st->status : 0]);
    /* open counts connections still connecting too: they are in use by the
     * request that started them. */
    sqlite3_bind_int(ins, 5, st->open - st->idle);
    sqlite3_bind_int(ins, 6, st->idle);
    sqlite3_bind_int64(ins, 7, admin_stats_i64(st->created_ok));
    sqlite3_bind_int64(ins, 8, admin_stats_i64(st->created_err));
    sqlite3_bind_int(ins, 9, st->max_used);
    /* Queries_GTID_sync: statements that waited for a GTID (causal reads)
     * are not counted per server yet. Latency_us is the last keep-alive
     * ping's round trip. */
    sqlite3_bind_int64(ins, 10, admin_stats_i64(st->queries));
    sqlite3_bind_int(ins, 11, 0);
    sqlite3_bind_int64(ins, 12, admin_stats_i64(st->bytes_sent));
    sqlite3_bind_int64(ins, 13, admin_stats_i64(st->bytes_recv));
    sqlite3_bind_int64(ins, 14, admin_stats_i64(st->latency_us));
    sqlite3_bind_int(ins, 15, st->max_connections);
    sqlite3_bind_int(ins, 16, st->waiting);
    sqlite3_bind_int64(ins, 17, admin_stats_i64(st->wait_p50_us));
    sqlite3_bind_int64(ins, 18, admin_stats_i64(st->wait_p99_us));
    sqlite3_bind_int64(ins, 19, admin_stats_i64(st->exhausted));
    sqlite3_bind_int64(ins, 20, admin_stats_i64(st->fail_fast));
    sqlite3_bind_int64(ins, 21, admin_stats_i64(st->created_last_min));
    sqlite3_bind_double(ins, 22, st->open > 0 ? (double)st->idle / st->open : 0.0);
    sqlite3_bind_int(ins, 23, st->weight);
}

static void bind_advisor_row(sqlite3_stmt *ins, const struct pool_server_stats *st,
                             const char *host, int port)
{
    sqlite3_bind_int(ins, 1, st->hostgroup);
    bind_text(ins, 2, host);
    sqlite3_bind_int(ins, 3, port);
    sqlite3_bind_double(ins, 4, st->borrows_per_sec);
    sqlite3_bind_double(ins, 5, st->avg_hold_us);
    sqlite3_bind_double(ins, 6, st->avg_in_use);
    sqlite3_bind_int(ins, 7, st->peak_in_use);
    sqlite3_bind_int(ins, 8, st->suggested);
    sqlite3_bind_int(ins, 9, st->max_connections);
}

static int fill_pool(sqlite3 *db, const struct admin_sources *src, bool advisor, char *errbuf,
                     size_t errlen)
{
    const char *table = advisor ? "stats_mysql_pool_advisor" : "stats_mysql_connection_pool";
    const char *cols =
        advisor ? "hostgroup, srv_host, srv_port, borrows_per_sec, avg_hold_us, avg_in_use,"
                  " peak_in_use, suggested_connections, max_connections"
                : "hostgroup, srv_host, srv_port, status, ConnUsed, ConnFree, ConnOK, ConnERR,"
                  " MaxConnUsed, Queries, Queries_GTID_sync, Bytes_data_sent, Bytes_data_recv,"
                  " Latency_us, max_connections, Queue, Queue_wait_p50_us, Queue_wait_p99_us,"
                  " Exhausted, FailFast, ConnCreated_last_min, Idle_ratio, weight";
    struct pool_server_stats st;
    sqlite3_stmt *ins = NULL;
    char host[sizeof(st.name)];
    size_t n;
    int port, rc;

    rc = admin_stats_exec(db, sqlite3_mprintf("DELETE FROM main.%s", table), errbuf, errlen,
                          "cannot clear a stats table");
    if (rc != 0 || !src->pool)
        return rc;
    n = pool_server_count(src->pool);
    if (n > 0)
        rc = admin_stats_prepare_insert(db, table, cols, advisor ? 9 : 23, &ins, errbuf, errlen);
    for (size_t i = 0; i < n && rc == 0; i++) {
        pool_server_stats(src->pool, i, &st);
        pool_split_name(st.name, host, sizeof(host), &port);
        if (advisor) {
            bind_advisor_row(ins, &st, host, port);
        } else {
            /* The monitor, which decides a server's health, says its status. */
            const char *status = src->server_status ? src->server_status(src->server_status_arg,
                                                                         st.hostgroup, host, port)
                                                    : NULL;
            bind_pool_row(ins, &st, host, port, status);
        }
        rc = admin_stats_insert_row(db, ins, table, errbuf, errlen);
    }
    sqlite3_finalize(ins);
    return rc;
}

/* Empties a stats table before its refill. */
int admin_stats_clear(sqlite3 *db, const char *table, char *errbuf, size_t errlen)
{
    return admin_stats_exec(db, sqlite3_mprintf("DELETE FROM main.%s", table), errbuf, errlen,
                            "cannot clear a stats table");
}

static int fill_pin_reasons(sqlite3 *db, const struct admin_session_stats *ss, char *errbuf,
                            size_t errlen)
{
    static const char table[] = "stats_mysql_pin_reasons";
    sqlite3_stmt *ins = NULL;
    int rc = admin_stats_clear(db, table, errbuf, errlen);

    if (rc == 0 && ss->n_reasons > 0)
        rc = admin_stats_prepare_insert(db, table, "reason, pinned_now, total", 3, &ins, errbuf,
                                        errlen);
    for (size_t i = 0; i < ss->n_reasons && rc == 0; i++) {
        bind_text(ins, 1, ss->reasons[i].reason);
        sqlite3_bind_int64(ins, 2, admin_stats_i64(ss->reasons[i].pinned_now));
        sqlite3_bind_int64(ins, 3, admin_stats_i64(ss->reasons[i].total));
        rc = admin_stats_insert_row(db, ins, table, errbuf, errlen);
    }
    sqlite3_finalize(ins);
    return rc;
}

static int fill_pin_digests(sqlite3 *db, const struct admin_session_stats *ss, char *errbuf,
                            size_t errlen)
{
    static const char table[] = "stats_mysql_pin_digests";
    sqlite3_stmt *ins = NULL;
    char hex[24];
    int rc = admin_stats_clear(db, table, errbuf, errlen);

    if (rc == 0 && ss->n_digests > 0)
        rc = admin_stats_prepare_insert(db, table, "reason, digest, digest_text, count_star", 4,
                                        &ins, errbuf, errlen);
    for (size_t i = 0; i < ss->n_digests && rc == 0; i++) {
        const struct admin_pin_digest *d = &ss->digests[i];
        snprintf(hex, sizeof(hex), "0x%016" PRIX64, d->digest);
        bind_text(ins, 1, d->reason);
        bind_text(ins, 2, hex);
        bind_text(ins, 3, d->digest_text);
        sqlite3_bind_int64(ins, 4, admin_stats_i64(d->count));
        rc = admin_stats_insert_row(db, ins, table, errbuf, errlen);
    }
    sqlite3_finalize(ins);
    return rc;
}

/* Backend connections lent now in hostgroup hg: pool's open minus idle,
 * summed over the hostgroup's servers. */
static int64_t lent_in_hostgroup(struct pool *pool, int hg)
{
    struct pool_server_stats st;
    int64_t lent = 0;
    size_t n = pool ? pool_server_count(pool) : 0;

    for (size_t i = 0; i < n; i++) {
        pool_server_stats(pool, i, &st);
        /* idle is read outside the server's lock: never below 0. */
        if (st.hostgroup == hg && st.open > st.idle)
            lent += st.open - st.idle;
    }
    return lent;
}

static int fill_multiplexing(sqlite3 *db, const struct admin_sources *src,
                             const struct admin_session_stats *ss, char *errbuf, size_t errlen)
{
    static const char table[] = "stats_mysql_multiplexing";
    sqlite3_stmt *ins = NULL;
    int rc = admin_stats_clear(db, table, errbuf, errlen);

    if (rc == 0 && ss->n_hostgroups > 0)
        rc = admin_stats_prepare_insert(
            db, table, "hostgroup, client_sessions, backends_in_use, sessions_per_backend", 4, &ins,
            errbuf, errlen);
    for (size_t i = 0; i < ss->n_hostgroups && rc == 0; i++) {
        const struct admin_hostgroup_sessions *h = &ss->hostgroups[i];
        int64_t lent = lent_in_hostgroup(src->pool, h->hostgroup);
        sqlite3_bind_int(ins, 1, h->hostgroup);
        sqlite3_bind_int64(ins, 2, admin_stats_i64(h->client_sessions));
        sqlite3_bind_int64(ins, 3, lent);
        if (lent > 0)
            sqlite3_bind_double(ins, 4, (double)h->client_sessions / (double)lent);
        rc = admin_stats_insert_row(db, ins, table, errbuf, errlen);
    }
    sqlite3_finalize(ins);
    return rc;
}

/* The tables fed by the proxy's session figures, taken once for all. */
static int fill_sessions(sqlite3 *db, const struct admin_sources *src, unsigned mask, char *errbuf,
                         size_t errlen)
{
    struct admin_session_stats ss;
    int rc = 0;

    memset(&ss, 0, sizeof(ss));
    if (src->session_stats && src->session_stats(src->session_arg, &ss) != 0) {
        admin_set_error(errbuf, errlen, "cannot fill the session stats tables: out of memory");
        return ADMIN_ENOMEM;
    }
    if (mask & ADMIN_STATS_PIN_REASONS)
        rc = fill_pin_reasons(db, &ss, errbuf, errlen);
    if (rc == 0 && (mask & ADMIN_STATS_PIN_DIGESTS))
        rc = fill_pin_digests(db, &ss, errbuf, errlen);
    if (rc == 0 && (mask & ADMIN_STATS_MULTIPLEXING))
        rc = fill_multiplexing(db, src, &ss, errbuf, errlen);
    if (src->session_stats && src->session_stats_free)
        src->session_stats_free(src->session_arg, &ss);
    return rc;
}

int admin_stats_refresh(struct admin_store *store, unsigned mask, char *errbuf, size_t errlen)
{
    const struct admin_sources *src = &store->sources;
    sqlite3 *db = store->db;
    int rc;

    if (mask == 0)
        return 0;
    /* A savepoint begins a transaction outside one and nests inside an
     * operator's BEGIN, so the refresh is all or nothing either way. */
    rc = admin_stats_exec(db, sqlite3_mprintf("SAVEPOINT admin_stats"), errbuf, errlen,
                          "cannot begin a savepoint");
    if (rc != 0)
        return rc;
    /* The plain table first: read together with _reset, both then show the
     * same samples. */
    if (mask & ADMIN_STATS_DIGEST)
        rc = fill_digest(db, src, "stats_mysql_query_digest", false, errbuf, errlen);
    if (rc == 0 && (mask & ADMIN_STATS_DIGEST_RESET))
        rc = fill_digest(db, src, "stats_mysql_query_digest_reset", true, errbuf, errlen);
    if (rc == 0 && (mask & ADMIN_STATS_POOL))
        rc = fill_pool(db, src, false, errbuf, errlen);
    if (rc == 0 && (mask & ADMIN_STATS_ADVISOR))
        rc = fill_pool(db, src, true, errbuf, errlen);
    if (rc == 0 &&
        (mask & (ADMIN_STATS_PIN_REASONS | ADMIN_STATS_PIN_DIGESTS | ADMIN_STATS_MULTIPLEXING)))
        rc = fill_sessions(db, src, mask, errbuf, errlen);
    if (rc == 0 && (mask & ADMIN_STATS_PROXY))
        rc = admin_stats_proxy_fill(db, src, mask & ADMIN_STATS_PROXY, errbuf, errlen);
    if (rc == 0)
        rc = admin_stats_exec(db, sqlite3_mprintf("RELEASE admin_stats"), errbuf, errlen,
                              "cannot commit the stats tables");
    if (rc != 0) {
        /* Best effort: the tables keep their previous rows. */
        sqlite3_exec(db, "ROLLBACK TO admin_stats", NULL, NULL, NULL);
        sqlite3_exec(db, "RELEASE admin_stats", NULL, NULL, NULL);
    }
    return rc;
}
