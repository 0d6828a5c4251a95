/*
 * Statement counters by type (stats_mysql_commands_counters and the
 * sluice_commands_latency_seconds histogram).
 *
 * When a client's COM_QUERY or COM_STMT_EXECUTE ends (session_command_done,
 * whatever the outcome: result, OK, ERR from the server or from Sluice),
 * cmdstats_record() classifies its text by the first keyword or two, as
 * ProxySQL names the types (SELECT, CREATE_TABLE, SHOW_TABLE_STATUS...), and
 * adds its time (from dispatch to the end of the response) to that type's
 * count, total and one of ProxySQL's twelve latency buckets.
 *
 * The counters are a plain array in each worker, written only by that
 * worker with relaxed atomic stores (proxy_count), so recording costs a
 * keyword scan and three additions: no lock, no allocation, no shared cache
 * line. cmdstats_sum() adds up every worker's array for a reader; each
 * figure is exact, the set is not one instant.
 */
#include "proxy/proxy_int.h"

#include <string.h>
#include <strings.h>
#include <time.h>

/* Indexes of type_names. */
enum cmd_type {
    CT_ALTER_TABLE,
    CT_ALTER_VIEW,
    CT_ANALYZE_TABLE,
    CT_BEGIN,
    CT_CALL,
    CT_CHANGE_MASTER,
    CT_COMMIT,
    CT_CREATE_DATABASE,
    CT_CREATE_INDEX,
    CT_CREATE_TABLE,
    CT_CREATE_TEMPORARY,
    CT_CREATE_TRIGGER,
    CT_CREATE_USER,
    CT_CREATE_VIEW,
    CT_DEALLOCATE,
    CT_DELETE,
    CT_DESCRIBE,
    CT_DROP_DATABASE,
    CT_DROP_INDEX,
    CT_DROP_TABLE,
    CT_DROP_TRIGGER,
    CT_DROP_USER,
    CT_DROP_VIEW,
    CT_GRANT,
    CT_EXECUTE,
    CT_EXPLAIN,
    CT_FLUSH,
    CT_INSERT,
    CT_KILL,
    CT_LOAD,
    CT_LOCK_TABLE,
    CT_OPTIMIZE,
    CT_PREPARE,
    CT_PURGE,
    CT_RENAME_TABLE,
    CT_RESET_MASTER,
    CT_RESET_SLAVE,
    CT_REPLACE,
    CT_REVOKE,
    CT_ROLLBACK,
    CT_SAVEPOINT,
    CT_SELECT,
    CT_SELECT_FOR_UPDATE,
    CT_SET,
    CT_SHOW_TABLE_STATUS,
    CT_START_TRANSACTION,
    CT_TRUNCATE_TABLE,
    CT_UNLOCK_TABLES,
    CT_UPDATE,
    CT_USE,
    CT_SHOW,
    CT_UNKNOWN,
    CT_N,
};
_Static_assert(CT_N == CMD_TYPES, "CMD_TYPES in proxy_int.h counts the types");

/* ProxySQL's types, in the order its table lists them. */
static const char *const type_names[CMD_TYPES] = {
    "ALTER_TABLE",
    "ALTER_VIEW",
    "ANALYZE_TABLE",
    "BEGIN",
    "CALL",
    "CHANGE_MASTER",
    "COMMIT",
    "CREATE_DATABASE",
    "CREATE_INDEX",
    "CREATE_TABLE",
    "CREATE_TEMPORARY",
    "CREATE_TRIGGER",
    "CREATE_USER",
    "CREATE_VIEW",
    "DEALLOCATE",
    "DELETE",
    "DESCRIBE",
    "DROP_DATABASE",
    "DROP_INDEX",
    "DROP_TABLE",
    "DROP_TRIGGER",
    "DROP_USER",
    "DROP_VIEW",
    "GRANT",
    "EXECUTE",
    "EXPLAIN",
    "FLUSH",
    "INSERT",
    "KILL",
    "LOAD",
    "LOCK_TABLE",
    "OPTIMIZE",
    "PREPARE",
    "PURGE",
    "RENAME_TABLE",
    "RESET_MASTER",
    "RESET_SLAVE",
    "REPLACE",
    "REVOKE",
    "ROLLBACK",
    "SAVEPOINT",
    "SELECT",
    "SELECT_FOR_UPDATE",
    "SET",
    "SHOW_TABLE_STATUS",
    "START_TRANSACTION",
    "TRUNCATE_TABLE",
    "UNLOCK_TABLES",
    "UPDATE",
    "USE",
    "SHOW",
    "UNKNOWN",
};

/* Upper bounds of the buckets in microseconds; the last bucket has none. */
static const uint64_t bucket_bounds_us[ADMIN_CMD_BUCKETS - 1] = {
    100, 500, 1000, 5000, 10000, 50000, 100000, 500000, 1000000, 5000000, 10000000,
};

const char *cmdstats_name(int type)
{
    return type >= 0 && type < CMD_TYPES ? type_names[type] : "UNKNOWN";
}

uint64_t cmdstats_bucket_bound_us(int bucket)
{
    return bucket >= 0 && bucket < ADMIN_CMD_BUCKETS - 1 ? bucket_bounds_us[bucket] : 0;
}

int cmdstats_bucket(uint64_t us)
{
    int b = 0;
    while (b < ADMIN_CMD_BUCKETS - 1 && us > bucket_bounds_us[b])
        b++;
    return b;
}

/* ------------------------------------------------------ classification */

static bool is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Skips blanks, comments (block, "-- " and '#') and opening parentheses,
 * so "(SELECT ...) UNION ..." and "/\* hint *\/ SELECT" count as SELECT. */
static size_t skip(const char *q, size_t len, size_t i)
{
    while (i < len) {
        char c = q[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(') {
            i++;
        } else if (c == '/' && i + 1 < len && q[i + 1] == '*') {
            const char *end = memmem(q + i + 2, len - i - 2, "*/", 2);
            if (!end)
                return len;
            i = (size_t)(end - q) + 2;
        } else if (c == '#' || (c == '-' && i + 2 < len && q[i + 1] == '-' &&
                                (q[i + 2] == ' ' || q[i + 2] == '\t'))) {
            const char *nl = memchr(q + i, '\n', len - i);
            if (!nl)
                return len;
            i = (size_t)(nl - q) + 1;
        } else {
            return i;
        }
    }
    return len;
}

/* Matches keyword kw (upper case) at q[*i] as a whole word; on a match
 * moves *i past it and the blanks after it. */
static bool kw(const char *q, size_t len, size_t *i, const char *word)
{
    size_t n = strlen(word);
    if (len - *i < n || strncasecmp(q + *i, word, n) != 0)
        return false;
    if (*i + n < len && is_word(q[*i + n]))
        return false;
    *i = skip(q, len, *i + n);
    return true;
}

/* SELECT ... FOR UPDATE: the statement ends with FOR UPDATE (blanks and a
 * ';' after it allowed). Only the tail is looked at, so the check costs the
 * same for any length. */
static bool ends_for_update(const char *q, size_t len)
{
    size_t e = len;
    while (e > 0 && (q[e - 1] == ' ' || q[e - 1] == '\t' || q[e - 1] == '\n' || q[e - 1] == '\r' ||
                     q[e - 1] == ';'))
        e--;
    if (e < 10 || strncasecmp(q + e - 6, "UPDATE", 6) != 0)
        return false;
    size_t f = e - 6;
    if (f == 0 || !(q[f - 1] == ' ' || q[f - 1] == '\t' || q[f - 1] == '\n' || q[f - 1] == '\r'))
        return false;
    while (f > 0 && (q[f - 1] == ' ' || q[f - 1] == '\t' || q[f - 1] == '\n' || q[f - 1] == '\r'))
        f--;
    return f >= 3 && strncasecmp(q + f - 3, "FOR", 3) == 0 && (f == 3 || !is_word(q[f - 4]));
}

/* The object after CREATE/DROP: the type named prefix_OBJECT, else UNKNOWN. */
static enum cmd_type object_type(const char *q, size_t len, size_t i, bool create)
{
    size_t j = i;
    if (create && kw(q, len, &j, "OR") && kw(q, len, &j, "REPLACE"))
        i = j;
    j = i;
    if (kw(q, len, &j, "TEMPORARY"))
        return create ? CT_CREATE_TEMPORARY : CT_DROP_TABLE;
    if (kw(q, len, &j, "TABLE"))
        return create ? CT_CREATE_TABLE : CT_DROP_TABLE;
    if (kw(q, len, &j, "DATABASE") || kw(q, len, &j, "SCHEMA"))
        return create ? CT_CREATE_DATABASE : CT_DROP_DATABASE;
    if (kw(q, len, &j, "UNIQUE") || kw(q, len, &j, "FULLTEXT") || kw(q, len, &j, "SPATIAL") ||
        kw(q, len, &j, "INDEX"))
        return create ? CT_CREATE_INDEX : CT_DROP_INDEX;
    if (kw(q, len, &j, "TRIGGER"))
        return create ? CT_CREATE_TRIGGER : CT_DROP_TRIGGER;
    if (kw(q, len, &j, "USER"))
        return create ? CT_CREATE_USER : CT_DROP_USER;
    if (kw(q, len, &j, "VIEW") || kw(q, len, &j, "ALGORITHM") || kw(q, len, &j, "DEFINER") ||
        kw(q, len, &j, "SQL"))
        return create ? CT_CREATE_VIEW : CT_DROP_VIEW;
    return CT_UNKNOWN;
}

/* Most statements are one of the first few checks, so the common path is
 * a handful of case-insensitive compares. WITH counts as SELECT (a CTE
 * that writes starts with the write's keyword in MariaDB). */
static enum cmd_type classify(const char *q, size_t len)
{
    size_t i = skip(q, len, 0);
    if (i >= len)
        return CT_UNKNOWN;
    if (kw(q, len, &i, "SELECT") || kw(q, len, &i, "WITH"))
        return ends_for_update(q, len) ? CT_SELECT_FOR_UPDATE : CT_SELECT;
    if (kw(q, len, &i, "INSERT"))
        return CT_INSERT;
    if (kw(q, len, &i, "UPDATE"))
        return CT_UPDATE;
    if (kw(q, len, &i, "DELETE"))
        return CT_DELETE;
    if (kw(q, len, &i, "REPLACE"))
        return CT_REPLACE;
    if (kw(q, len, &i, "SET"))
        return CT_SET;
    if (kw(q, len, &i, "BEGIN"))
        return CT_BEGIN;
    if (kw(q, len, &i, "COMMIT"))
        return CT_COMMIT;
    if (kw(q, len, &i, "ROLLBACK"))
        return CT_ROLLBACK;
    if (kw(q, len, &i, "START"))
        return kw(q, len, &i, "TRANSACTION") ? CT_START_TRANSACTION : CT_UNKNOWN;
    if (kw(q, len, &i, "SHOW"))
        return kw(q, len, &i, "TABLE") && kw(q, len, &i, "STATUS") ? CT_SHOW_TABLE_STATUS : CT_SHOW;
    if (kw(q, len, &i, "USE"))
        return CT_USE;
    if (kw(q, len, &i, "CREATE"))
        return object_type(q, len, i, true);
    if (kw(q, len, &i, "DROP"))
        return object_type(q, len, i, false);
    if (kw(q, len, &i, "ALTER")) {
        size_t j = i;
        if (kw(q, len, &j, "TABLE") || kw(q, len, &j, "ONLINE") || kw(q, len, &j, "IGNORE"))
            return CT_ALTER_TABLE;
        if (kw(q, len, &j, "VIEW") || kw(q, len, &j, "ALGORITHM") || kw(q, len, &j, "DEFINER") ||
            kw(q, len, &j, "SQL"))
            return CT_ALTER_VIEW;
        return CT_UNKNOWN;
    }
    if (kw(q, len, &i, "SAVEPOINT"))
        return CT_SAVEPOINT;
    if (kw(q, len, &i, "CALL"))
        return CT_CALL;
    if (kw(q, len, &i, "DESCRIBE") || kw(q, len, &i, "DESC"))
        return CT_DESCRIBE;
    if (kw(q, len, &i, "EXPLAIN"))
        return CT_EXPLAIN;
    if (kw(q, len, &i, "LOCK"))
        return CT_LOCK_TABLE;
    if (kw(q, len, &i, "UNLOCK"))
        return CT_UNLOCK_TABLES;
    if (kw(q, len, &i, "TRUNCATE"))
        return CT_TRUNCATE_TABLE;
    if (kw(q, len, &i, "RENAME"))
        return kw(q, len, &i, "TABLE") ? CT_RENAME_TABLE : CT_UNKNOWN;
    if (kw(q, len, &i, "ANALYZE"))
        return CT_ANALYZE_TABLE;
    if (kw(q, len, &i, "OPTIMIZE"))
        return CT_OPTIMIZE;
    if (kw(q, len, &i, "PREPARE"))
        return CT_PREPARE;
    if (kw(q, len, &i, "EXECUTE"))
        return CT_EXECUTE;
    if (kw(q, len, &i, "DEALLOCATE"))
        return CT_DEALLOCATE;
    if (kw(q, len, &i, "GRANT"))
        return CT_GRANT;
    if (kw(q, len, &i, "REVOKE"))
        return CT_REVOKE;
    if (kw(q, len, &i, "FLUSH"))
        return CT_FLUSH;
    if (kw(q, len, &i, "KILL"))
        return CT_KILL;
    if (kw(q, len, &i, "LOAD"))
        return CT_LOAD;
    if (kw(q, len, &i, "PURGE"))
        return CT_PURGE;
    if (kw(q, len, &i, "CHANGE"))
        return kw(q, len, &i, "MASTER") ? CT_CHANGE_MASTER : CT_UNKNOWN;
    if (kw(q, len, &i, "RESET")) {
        if (kw(q, len, &i, "MASTER"))
            return CT_RESET_MASTER;
        if (kw(q, len, &i, "SLAVE") || kw(q, len, &i, "REPLICA"))
            return CT_RESET_SLAVE;
    }
    return CT_UNKNOWN;
}

int cmdstats_classify(const char *q, size_t len)
{
    return (int)classify(q, len);
}

/* ----------------------------------------------------------- recording */

void cmdstats_record(struct session *s, uint64_t now_ns)
{
    const char *text;
    size_t len;

    /* cmd is the last dispatched command's byte; the check that the message
     * in hand carries it skips an empty packet refused before dispatch set
     * cmd. */
    if (s->cmd_len < 5 || s->in.data[4] != s->cmd)
        return;
    if (s->cmd == CODEC_COM_QUERY) {
        size_t n = codec_u24(s->in.data);
        text = (const char *)s->in.data + 5;
        len = n ? n - 1 : 0;
        if (len > s->cmd_len - 5)
            len = s->cmd_len - 5;
    } else if (s->cmd == CODEC_COM_STMT_EXECUTE && s->cur_stmt) {
        text = s->cur_stmt->sql;
        len = s->cur_stmt->sql_len;
    } else {
        return;
    }
    uint64_t us = now_ns > s->started_ns ? (now_ns - s->started_ns) / 1000u : 0;
    struct cmd_counter *c = &s->worker->cmds[cmdstats_classify(text, len)];
    proxy_count(&c->cnt, 1);
    proxy_count(&c->time_us, us);
    proxy_count(&c->buckets[cmdstats_bucket(us)], 1);
}

void cmdstats_sum(struct proxy *p, struct admin_command_stats *out)
{
    memset(out, 0, CMD_TYPES * sizeof(*out));
    for (int t = 0; t < CMD_TYPES; t++) {
        struct admin_command_stats *o = &out[t];
        strncpy(o->command, type_names[t], sizeof(o->command) - 1);
        for (int i = 0; i < p->nworkers; i++) {
            const struct cmd_counter *c = &p->workers[i].cmds[t];
            o->total_cnt += __atomic_load_n(&c->cnt, __ATOMIC_RELAXED);
            o->total_time_us += __atomic_load_n(&c->time_us, __ATOMIC_RELAXED);
            for (int b = 0; b < ADMIN_CMD_BUCKETS; b++)
                o->cnt[b] += __atomic_load_n(&c->buckets[b], __ATOMIC_RELAXED);
        }
    }
}

/* Adds the statement to the worker's digest statistics
 * (stats_mysql_query_digest) under hostgroup hg (-1: answered from the
 * query cache, as ProxySQL shows it). */
void cmdstats_record_digest(struct session *s, int hg)
{
    struct worker *w = s->worker;
    const char *text;
    size_t len;
    uint64_t known = 0; /* the hash, when routing or an earlier execute computed it */
    if (s->cmd == CODEC_COM_QUERY) {
        text = (const char *)s->in.data + 5;
        len = codec_u24(s->in.data);
        len = len ? len - 1 : 0;
        known = s->digest_hash;
    } else if (s->cmd == CODEC_COM_STMT_EXECUTE && s->cur_stmt) {
        text = s->cur_stmt->sql;
        len = s->cur_stmt->sql_len;
        known = s->cur_stmt->digest;
    } else {
        return;
    }
    if (!w->digest_stats)
        return;
    struct router_digest_sample sample = {
        .hostgroup = hg,
        .schema = s->schema,
        .user = s->username,
        .digest = known,
        .elapsed_us = (clock_now_ns() - s->started_ns) / 1000u,
        .rows_affected = s->resp.rows_affected,
        .rows_sent = s->resp.rows_sent,
        .now = (int64_t)time(NULL),
    };
    /* One digest pass per statement at most: the text is needed only the
     * first time a key is seen. */
    if (known && router_digest_stats_record_known(w->digest_stats, &sample))
        return;
    /* The bound routing used too, so that a hash from routing is this one. */
    sample.text_len = router_digest(text, len, w->digest_text, sizeof(w->digest_text),
                                    (size_t)s->cfg->digest_max_len, &sample.digest);
    sample.digest_text = w->digest_text;
    if (s->cmd == CODEC_COM_STMT_EXECUTE)
        s->cur_stmt->digest = sample.digest;
    router_digest_stats_record(w->digest_stats, &sample);
}
