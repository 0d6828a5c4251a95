/*
 * The proxy's side of the statement counters: what a session's command
 * amounts to for stats_mysql_commands_counters (stats/commands.c) and for
 * the digest statistics (router/digest_stats.c).
 */
#include "common/common.h"
#include "proxy/proxy_int.h"

#include <string.h>

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
    stats_cmd_record(s->worker->stats, text, len, us);
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
