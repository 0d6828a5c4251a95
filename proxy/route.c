/*
 * Routing glue: a COM_QUERY's way through the query rules (router_classify
 * with the session's facts), and what the rules leave to the session:
 * answers given here (rule errors, OK messages, cached results, SELECT
 * @@last_gtid), a READ ONLY transaction sent where reads go, hostgroup hints
 * and causal reads (read-your-writes). Prepared statements take the same
 * way in stmt_route.c.
 */
#include "proxy/proxy_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A GTID as MariaDB prints it (domain-server-seq, comma-separated list):
 * digits, '-' and ','. Anything else never reaches SQL text. */
static bool gtid_ok(const char *g, size_t n)
{
    if (n == 0 || n >= 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((g[i] >= '0' && g[i] <= '9') || g[i] == '-' || g[i] == ','))
            return false;
    return true;
}

/* The text of the statement's leading comment (between / * and * /), or NULL. */
static const char *leading_comment(const char *q, size_t len, size_t *n)
{
    size_t i = 0;
    while (i < len && (q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r'))
        i++;
    if (i + 2 >= len || q[i] != '/' || q[i + 1] != '*')
        return NULL;
    const char *end = memmem(q + i + 2, len - i - 2, "*/", 2);
    if (!end)
        return NULL;
    *n = (size_t)(end - (q + i + 2));
    return q + i + 2;
}

/* mysql-hostgroup_hints: "hostgroup=N" in the leading comment. */
static void hostgroup_hint(struct session *s, const char *q, size_t len)
{
    size_t n;
    const char *c = leading_comment(q, len, &n);
    const char *h = c ? memmem(c, n, "hostgroup=", 10) : NULL;
    if (!h || s->in_txn || s->pin)
        return;
    int hg = 0;
    size_t k = 10, digits = 0;
    while (h + k < c + n && h[k] >= '0' && h[k] <= '9' && digits < 9) {
        hg = hg * 10 + (h[k++] - '0');
        digits++;
    }
    if (digits)
        s->hostgroup = hg;
}

/* Read-your-writes. A statement carrying a leading "min_gtid=GTID" comment
 * (another connection's write) must see that GTID; with mysql-causal_reads,
 * a statement routed away from where this session last wrote must see that
 * write. The wait happens on the chosen backend (BS_GTID_WAIT); if it times
 * out the statement runs on the fallback hostgroup instead. */
static void causal_read(struct session *s, const char *q, size_t len)
{
    s->want_gtid[0] = '\0';
    if (s->in_txn || s->pin)
        return; /* stays on its backend whatever the rules said */
    size_t clen;
    const char *c = leading_comment(q, len, &clen);
    if (c) {
        const char *end = c + clen;
        const char *hint = memmem(c, clen, "min_gtid=", 9);
        if (hint) {
            const char *g = hint + 9;
            size_t n = 0;
            while (g + n < end && ((g[n] >= '0' && g[n] <= '9') || g[n] == '-' || g[n] == ','))
                n++;
            if (gtid_ok(g, n)) {
                memcpy(s->want_gtid, g, n);
                s->want_gtid[n] = '\0';
                s->gtid_fallback_hg =
                    s->last_gtid[0] ? s->gtid_hostgroup : s->user->default_hostgroup;
                return;
            }
        }
    }
    /* A user's own setting (mysql_users.attributes) wins over the global. */
    bool on = s->user->causal_reads >= 0 ? s->user->causal_reads != 0 : s->cfg->causal_reads != 0;
    if (on && s->last_gtid[0] && s->hostgroup != s->gtid_hostgroup &&
        gtid_ok(s->last_gtid, strlen(s->last_gtid))) {
        snprintf(s->want_gtid, sizeof(s->want_gtid), "%s", s->last_gtid);
        s->gtid_fallback_hg = s->gtid_hostgroup;
    }
}

/* SELECT @@last_gtid answered from the session: with multiplexing the next
 * backend is not the one that ran the write, so the server cannot. */
static bool answer_last_gtid(struct session *s, const char *q, size_t len)
{
    static const char *const forms[] = {"select @@last_gtid", "select @@session.last_gtid"};
    while (len && (q[len - 1] == ';' || q[len - 1] == ' ' || q[len - 1] == '\n'))
        len--;
    while (len && (*q == ' ' || *q == '\n' || *q == '\t')) {
        q++;
        len--;
    }
    const char *name = NULL;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
        if (strlen(forms[i]) == len && strncasecmp(q, forms[i], len) == 0)
            name = forms[i] + 7;
    if (!name)
        return false;
    struct codec_resultset rs;
    char colname[32];
    snprintf(colname, sizeof(colname), "%.*s", (int)(len - 7), q + 7);
    const char *names[1] = {colname};
    const char *values[1] = {s->last_gtid};
    uint16_t status = SERVER_STATUS_AUTOCOMMIT_F | (s->in_txn ? SERVER_STATUS_IN_TRANS_F : 0);
    if (codec_rs_begin(&rs, &s->out, 1, s->caps, status, 1, names) != 0 ||
        codec_rs_row(&rs, 1, values) != 0 || codec_rs_end(&rs) != 0)
        s->close_after_write = true;
    session_command_done(s);
    return true;
}

void backend_route_hints(struct session *s, const char *q, size_t len, bool causal)
{
    if (s->cfg->hostgroup_hints)
        hostgroup_hint(s, q, len);
    if (causal)
        causal_read(s, q, len);
}

/* Routes a COM_QUERY through the rules. Returns false when the statement
 * was answered here (rule error or OK message). */
bool route_query(struct session *s)
{
    /* Only the first packet's text: a 16 MiB+ statement is routed by its
     * beginning. */
    size_t len = codec_u24(s->in.data);
    len = len ? len - 1 : 0;
    if (len < 64 && answer_last_gtid(s, (const char *)s->in.data + 5, len))
        return false;
    if (len < 64 && answer_kill(s, (const char *)s->in.data + 5, len))
        return false;
    struct router_facts facts = {.user = s->username,
                                 .schema = s->schema,
                                 .client_addr = s->peer_ip,
                                 .default_hostgroup = s->user->default_hostgroup,
                                 .in_transaction = s->in_txn,
                                 .digest_max_len = (size_t)s->cfg->digest_max_len,
                                 .text_cut = s->cmd_len > len + 5};
    struct router_decision d;
    uint64_t t0 = clock_now_ns();
    (void)router_classify(s->cfg->rules, s->worker->scratch, &facts, (const char *)s->in.data + 5,
                          len, &d);
    stats_count(&s->worker->counters->query_processor_ns, clock_now_ns() - t0);
    s->hostgroup = d.hostgroup;
    s->stmt_flags = d.stmt_flags;
    s->digest_hash = d.digest;
    s->rewritten = false;
    s->max_retries = d.retries >= 0 ? d.retries : s->cfg->query_retries_on_failure;
    s->timeout_ms = d.timeout_ms > 0 ? d.timeout_ms : 0;
    s->delay_ms = d.delay_ms > 0 ? d.delay_ms : 0;
    s->cache_ttl = 0;
    if (d.error_msg) {
        session_send_error(s, 1, 1148, "42000", d.error_msg);
        session_command_done(s);
        return false;
    }
    if (d.ok_msg) {
        if (codec_write_ok_caps(&s->out, 1, s->caps, 0, 0,
                                SERVER_STATUS_AUTOCOMMIT_F |
                                    (s->in_txn ? SERVER_STATUS_IN_TRANS_F : 0),
                                0, d.ok_msg) != 0)
            s->close_after_write = true;
        session_command_done(s);
        return false;
    }
    const char *q = (const char *)s->in.data + 5;
    if (d.cache_ttl > 0 && qc_cacheable(s, q, len)) {
        if (qc_answer(s, q, len, &s->resp.rows_sent)) {
            s->resp.rows_affected = 0;
            cmdstats_record_digest(s, -1);
            session_command_done(s);
            return false;
        }
        s->cache_ttl = d.cache_ttl;
    }
    if (d.rule_id < 0 && !s->in_txn && !s->pin && router_stmt_read_only_txn(q, len)) {
        /* No rule names this START TRANSACTION READ ONLY: it goes where the
         * rules send a plain read, and the transaction stays there (in_txn
         * pins it). A write inside fails on a replica with the server's
         * own READ ONLY error, as it would on any server. */
        struct router_decision rd;
        (void)router_classify(s->cfg->rules, s->worker->scratch, &facts, "SELECT 1", 8, &rd);
        s->hostgroup = rd.hostgroup;
    }
    if (d.multiplex == 0)
        s->pin |= PIN_RULE;
    backend_route_hints(s, (const char *)s->in.data + 5, len, true);
    if (d.rewritten && s->cmd_len == len + 5) {
        /* The scratch text is the worker's: keep a copy, the backend may
         * only be ready after other sessions have been routed. */
        codec_buf_reset(&s->rewrite);
        uint8_t hdr[5];
        codec_header_write(hdr, (uint32_t)(d.rewritten_len + 1), s->in.data[3]);
        hdr[4] = CODEC_COM_QUERY;
        if (d.rewritten_len + 1 < CODEC_MAX_PAYLOAD && codec_buf_append(&s->rewrite, hdr, 5) == 0 &&
            codec_buf_append(&s->rewrite, d.rewritten, d.rewritten_len) == 0)
            s->rewritten = true;
    }
    if (len < 64 && s->cmd_len == len + 5 &&
        connection_id_rewrite(s, (const char *)s->in.data + 5, len))
        s->rewritten = true;
    return true;
}
