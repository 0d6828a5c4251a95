/*
 * Statement types (stats_mysql_commands_counters and the
 * sluice_commands_latency_seconds histogram).
 *
 * When a client's COM_QUERY or COM_STMT_EXECUTE ends, whatever the outcome
 * (result, OK, ERR from the server or from Sluice), the proxy hands its
 * text and time to stats_cmd_record(), which classifies the text by the
 * first keyword or two, as ProxySQL names the types (SELECT, CREATE_TABLE,
 * SHOW_TABLE_STATUS...), and adds the time (from dispatch to the end of the
 * response) to that type's count, total and one of ProxySQL's twelve
 * latency buckets: a keyword scan and three additions to the worker's own
 * array, no lock, no allocation.
 */
#include "stats/stats_int.h"

#include <string.h>
#include <strings.h>

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
_Static_assert(CT_N == STATS_CMD_TYPES, "STATS_CMD_TYPES in stats.h counts the types");

/* ProxySQL's types, in the order its table lists them. */
static const char *const type_names[STATS_CMD_TYPES] = {
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

const char *stats_cmd_name(int type)
{
    return type >= 0 && type < STATS_CMD_TYPES ? type_names[type] : "UNKNOWN";
}

uint64_t stats_cmd_bucket_bound_us(int bucket)
{
    return bucket >= 0 && bucket < ADMIN_CMD_BUCKETS - 1 ? bucket_bounds_us[bucket] : 0;
}

int stats_cmd_bucket(uint64_t us)
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

/* The statements named by their first keyword alone, most frequent first:
 * the common path is a handful of case-insensitive compares. WITH counts
 * as SELECT (a CTE that writes starts with the write's keyword in
 * MariaDB); SELECT and the keywords needing a second look are below. */
static const struct {
    const char *word;
    enum cmd_type type;
} first_words[] = {
    {"INSERT", CT_INSERT},
    {"UPDATE", CT_UPDATE},
    {"DELETE", CT_DELETE},
    {"REPLACE", CT_REPLACE},
    {"SET", CT_SET},
    {"BEGIN", CT_BEGIN},
    {"COMMIT", CT_COMMIT},
    {"ROLLBACK", CT_ROLLBACK},
    {"USE", CT_USE},
    {"SAVEPOINT", CT_SAVEPOINT},
    {"CALL", CT_CALL},
    {"DESCRIBE", CT_DESCRIBE},
    {"DESC", CT_DESCRIBE},
    {"EXPLAIN", CT_EXPLAIN},
    {"LOCK", CT_LOCK_TABLE},
    {"UNLOCK", CT_UNLOCK_TABLES},
    {"TRUNCATE", CT_TRUNCATE_TABLE},
    {"ANALYZE", CT_ANALYZE_TABLE},
    {"OPTIMIZE", CT_OPTIMIZE},
    {"PREPARE", CT_PREPARE},
    {"EXECUTE", CT_EXECUTE},
    {"DEALLOCATE", CT_DEALLOCATE},
    {"GRANT", CT_GRANT},
    {"REVOKE", CT_REVOKE},
    {"FLUSH", CT_FLUSH},
    {"KILL", CT_KILL},
    {"LOAD", CT_LOAD},
    {"PURGE", CT_PURGE},
};

static enum cmd_type alter_type(const char *q, size_t len, size_t i)
{
    if (kw(q, len, &i, "TABLE") || kw(q, len, &i, "ONLINE") || kw(q, len, &i, "IGNORE"))
        return CT_ALTER_TABLE;
    if (kw(q, len, &i, "VIEW") || kw(q, len, &i, "ALGORITHM") || kw(q, len, &i, "DEFINER") ||
        kw(q, len, &i, "SQL"))
        return CT_ALTER_VIEW;
    return CT_UNKNOWN;
}

static enum cmd_type reset_type(const char *q, size_t len, size_t i)
{
    if (kw(q, len, &i, "MASTER"))
        return CT_RESET_MASTER;
    if (kw(q, len, &i, "SLAVE") || kw(q, len, &i, "REPLICA"))
        return CT_RESET_SLAVE;
    return CT_UNKNOWN;
}

/* The keywords whose type depends on what follows them; i is past the
 * first statement keyword. */
static enum cmd_type two_word_type(const char *q, size_t len, size_t i)
{
    if (kw(q, len, &i, "START"))
        return kw(q, len, &i, "TRANSACTION") ? CT_START_TRANSACTION : CT_UNKNOWN;
    if (kw(q, len, &i, "SHOW"))
        return kw(q, len, &i, "TABLE") && kw(q, len, &i, "STATUS") ? CT_SHOW_TABLE_STATUS : CT_SHOW;
    if (kw(q, len, &i, "CREATE"))
        return object_type(q, len, i, true);
    if (kw(q, len, &i, "DROP"))
        return object_type(q, len, i, false);
    if (kw(q, len, &i, "ALTER"))
        return alter_type(q, len, i);
    if (kw(q, len, &i, "RENAME"))
        return kw(q, len, &i, "TABLE") ? CT_RENAME_TABLE : CT_UNKNOWN;
    if (kw(q, len, &i, "CHANGE"))
        return kw(q, len, &i, "MASTER") ? CT_CHANGE_MASTER : CT_UNKNOWN;
    if (kw(q, len, &i, "RESET"))
        return reset_type(q, len, i);
    return CT_UNKNOWN;
}

int stats_cmd_classify(const char *q, size_t len)
{
    size_t i = skip(q, len, 0);
    if (i >= len)
        return CT_UNKNOWN;
    if (kw(q, len, &i, "SELECT") || kw(q, len, &i, "WITH"))
        return ends_for_update(q, len) ? CT_SELECT_FOR_UPDATE : CT_SELECT;
    for (size_t k = 0; k < sizeof(first_words) / sizeof(first_words[0]); k++)
        if (kw(q, len, &i, first_words[k].word))
            return first_words[k].type;
    return two_word_type(q, len, i);
}

void stats_cmd_record(struct stats_worker *ws, const char *q, size_t len, uint64_t us)
{
    struct stats_cmd_counter *c = &ws->cmds[stats_cmd_classify(q, len)];
    stats_count(&c->cnt, 1);
    stats_count(&c->time_us, us);
    stats_count(&c->buckets[stats_cmd_bucket(us)], 1);
}

void stats_cmd_sum(const struct stats *st, struct admin_command_stats out[STATS_CMD_TYPES])
{
    memset(out, 0, STATS_CMD_TYPES * sizeof(*out));
    for (int t = 0; t < STATS_CMD_TYPES; t++) {
        struct admin_command_stats *o = &out[t];
        strncpy(o->command, type_names[t], sizeof(o->command) - 1);
        for (int i = 0; i < st->nworkers; i++) {
            const struct stats_cmd_counter *c = &st->workers[i].cmds[t];
            o->total_cnt += __atomic_load_n(&c->cnt, __ATOMIC_RELAXED);
            o->total_time_us += __atomic_load_n(&c->time_us, __ATOMIC_RELAXED);
            for (int b = 0; b < ADMIN_CMD_BUCKETS; b++)
                o->cnt[b] += __atomic_load_n(&c->buckets[b], __ATOMIC_RELAXED);
        }
    }
}
