/*
 * The response parser (see response.h for its states): one small function
 * per state, chosen by a table, and a loop that frames packets and streams
 * the ones that need no rewriting. Every change of state goes through
 * to(), so a reader can find them all.
 */
#include "proxy/response.h"

#include "common/common.h"
#include "router/router.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void to(struct resp *r, enum resp_state st)
{
    r->st = st;
}

static bool is_eof(const uint8_t *pkt, size_t plen)
{
    return plen > 0 && codec_is_eof(pkt + 4, plen);
}

/* ------------------------------------------------------------ output */

static int emit(struct session *s, const uint8_t *p, size_t n)
{
    if (s->resp.swallow)
        return 0;
    s->resp.sent_any = true;
    return codec_buf_append(&s->out, p, n) == 0 ? 0 : PROXY_ENOMEM;
}

/* Emits a whole packet or a packet header, renumbered by seq_shift. */
static int emit_pkt(struct session *s, uint8_t *p, size_t n)
{
    p[3] = (uint8_t)(p[3] + s->resp.seq_shift);
    return emit(s, p, n);
}

/* The client negotiated CLIENT_DEPRECATE_EOF (backends never do): EOF
 * packets after definitions disappear and final ones become OK packets. */
static bool deprecate_eof(const struct session *s)
{
    return (s->caps & CLIENT_DEPRECATE_EOF_F) && !s->resp.swallow;
}

/* Leaves out the current packet; later packets are renumbered to close the
 * gap. */
static int drop_pkt(struct session *s)
{
    s->resp.seq_shift--;
    return 0;
}

/* A column definition without MariaDB's extended metadata field, appended
 * to `to` as a packet with sequence id seq. */
static int strip_coldef(const uint8_t *payload, size_t len, bool has_ext, struct codec_buf *to,
                        uint8_t seq)
{
    struct codec_reader rd;
    codec_reader_init(&rd, payload, len);
    const uint8_t *str;
    size_t n;
    for (int i = 0; i < 6; i++)
        if (codec_read_lenenc_str(&rd, &str, &n) != 0)
            return PROXY_EPROTO;
    size_t keep1 = rd.pos;
    if (has_ext && codec_read_lenenc_str(&rd, &str, &n) != 0)
        return PROXY_EPROTO;
    size_t off = codec_buf_packet_begin(to, seq);
    if (off == SIZE_MAX || codec_buf_append(to, payload, keep1) != 0 ||
        codec_buf_append(to, payload + rd.pos, len - rd.pos) != 0)
        return PROXY_ENOMEM;
    codec_buf_packet_end(to, off);
    return 0;
}

/* Column definitions are kept from prepare replies, and from execute
 * replies under metadata caching: the server sends them again only when they
 * change, so the last ones sent are what a later reply without them means. */
static bool capturing_meta(const struct resp *r)
{
    return (r->kind == RESP_PREPARE && r->st == RS_PCOLS) ||
           (r->kind == RESP_EXECUTE && r->cache_meta && r->st == RS_COLS);
}

static int handle_coldef(struct session *s, uint8_t *pkt, size_t plen)
{
    struct resp *r = &s->resp;
    uint8_t seq = (uint8_t)(pkt[3] + r->seq_shift);
    bool capture = capturing_meta(r);
    int rc = capture ? strip_coldef(pkt + 4, plen, r->strip_meta, &s->meta, seq) : 0;
    if (rc != 0)
        return rc;
    if (r->swallow)
        return 0;
    r->sent_any = true;
    return strip_coldef(pkt + 4, plen, r->strip_meta, &s->out, seq);
}

/* The collation named by a COLLATE clause in the current statement; false
 * when there is none. */
static bool collate_clause(const struct session *s, char *out, size_t outlen)
{
    if (s->cmd != CODEC_COM_QUERY || s->cmd_len <= 5)
        return false;
    const char *q = (const char *)s->in.data + 5;
    size_t n = s->cmd_len - 5;
    for (size_t i = 0; i + 7 < n; i++) {
        if (strncasecmp(q + i, "collate", 7) != 0)
            continue;
        size_t j = i + 7;
        while (j < n && (q[j] == ' ' || q[j] == '\t' || q[j] == '=' || q[j] == '\'' ||
                         q[j] == '"' || q[j] == '`'))
            j++;
        size_t k = 0;
        while (j < n && k + 1 < outlen &&
               ((q[j] >= 'a' && q[j] <= 'z') || (q[j] >= 'A' && q[j] <= 'Z') ||
                (q[j] >= '0' && q[j] <= '9') || q[j] == '_'))
            out[k++] = (char)tolower((unsigned char)q[j++]);
        out[k] = '\0';
        return k > 0;
    }
    return false;
}

/* The collation SET NAMES cs picked: cs's default. The fallback is for a
 * character set newer than the table (collations.inc). */
static void default_collation(const char *cs, size_t len, char *out, size_t outlen)
{
    const char *c = collation_default_of(cs, len);
    if (c)
        snprintf(out, outlen, "%s", c);
    else
        snprintf(out, outlen, "%.*s_general_ci", (int)len, cs);
}

/* Applies the session-state block of an OK packet to session and backend. */
static void apply_tracking(struct session *s, const struct codec_ok *ok)
{
    struct codec_track_iter it;
    codec_track_iter_init(&it, ok->session_state, ok->session_state_len);
    uint8_t type;
    const uint8_t *data;
    size_t dlen;
    const uint8_t *cs_conn = NULL;
    size_t cs_conn_len = 0;
    bool coll_reported = false;
    while (codec_track_next(&it, &type, &data, &dlen) == 1) {
        if (type == SESSION_TRACK_SYSTEM_VARIABLES) {
            const uint8_t *name, *value;
            size_t nlen, vlen;
            if (codec_track_sysvar(data, dlen, &name, &nlen, &value, &vlen) != 0)
                continue;
            if (nlen == 9 && memcmp(name, "last_gtid", 9) == 0) {
                if (!s->resp.swallow && vlen > 0 && vlen < sizeof(s->last_gtid)) {
                    memcpy(s->last_gtid, value, vlen);
                    s->last_gtid[vlen] = '\0';
                    s->gtid_hostgroup = s->resp.peer.hostgroup;
                }
                continue;
            }
            if (nlen > 14 && memcmp(name, "session_track_", 14) == 0)
                continue;
            s->resp.vars_reported = true;
            if (s->resp.swallow)
                continue;
            if (nlen == 24 && memcmp(name, "character_set_connection", 24) == 0) {
                cs_conn = value;
                cs_conn_len = vlen;
            } else if (nlen == 20 && memcmp(name, "collation_connection", 20) == 0) {
                coll_reported = true;
            }
            if (varset_set(&s->vars, (const char *)name, nlen, (const char *)value, vlen) == 0 &&
                varset_set(&s->be->vars, (const char *)name, nlen, (const char *)value, vlen) == 0)
                s->vars_version++;
        } else if (type == SESSION_TRACK_SCHEMA) {
            const uint8_t *schema;
            size_t n;
            if (codec_track_schema(data, dlen, &schema, &n) != 0 || n > 192)
                continue;
            s->resp.vars_reported = true;
            snprintf(s->be->schema, sizeof(s->be->schema), "%.*s", (int)n, schema);
            if (!s->resp.swallow)
                snprintf(s->schema, sizeof(s->schema), "%.*s", (int)n, schema);
        } else if (type == SESSION_TRACK_STATE_CHANGE) {
            s->resp.state_changed = true;
        }
    }
    if (cs_conn && !coll_reported) {
        /* SET NAMES reports the character sets but not the collation it
         * chose; replaying only the sets would land on the default. */
        char coll[64];
        if (!collate_clause(s, coll, sizeof(coll)))
            default_collation((const char *)cs_conn, cs_conn_len, coll, sizeof(coll));
        if (varset_set(&s->vars, "collation_connection", 20, coll, strlen(coll)) == 0 &&
            varset_set(&s->be->vars, "collation_connection", 20, coll, strlen(coll)) == 0)
            s->vars_version++;
    }
    if (!s->resp.swallow)
        s->be->synced_version = s->vars_version;
}

/* OK packet: track state; pass it on without the tracking block (the
 * client did not ask for session tracking). */
static int handle_ok(struct session *s, const uint8_t *pkt, size_t plen, bool *more)
{
    struct codec_ok ok;
    if (codec_ok_parse(pkt + 4, plen, s->resp.peer.caps, &ok) != 0)
        return PROXY_EPROTO;
    s->resp.status = ok.status;
    s->resp.warnings = ok.warnings;
    s->resp.rows_affected += ok.affected_rows;
    if (!(ok.status & SERVER_STATUS_IN_TRANS_F) && !s->resp.swallow)
        s->resp.txn_gap = true;
    if (ok.last_insert_id) {
        s->resp.last_insert_id = ok.last_insert_id;
        s->be->last_insert_id = ok.last_insert_id;
        if (!s->resp.swallow)
            s->last_insert_id = ok.last_insert_id;
    }
    if (ok.session_state_len)
        apply_tracking(s, &ok);
    *more = (ok.status & SERVER_MORE_RESULTS_EXISTS_F) != 0;
    if (s->resp.swallow)
        return 0;
    s->resp.sent_any = true;
    char info[256];
    size_t ilen = ok.info_len < sizeof(info) - 1 ? ok.info_len : sizeof(info) - 1;
    if (ilen)
        memcpy(info, ok.info, ilen);
    info[ilen] = '\0';
    uint16_t status = ok.status & (uint16_t)~SERVER_SESSION_STATE_CHANGED_F;
    if (codec_write_ok_caps(&s->out, (uint8_t)(pkt[3] + s->resp.seq_shift), s->caps,
                            ok.affected_rows, ok.last_insert_id, status, ok.warnings, info) != 0)
        return PROXY_ENOMEM;
    return 0;
}

static void handle_err(struct session *s, const uint8_t *pkt, size_t plen)
{
    struct codec_err_pkt e;
    s->resp.error = true;
    if (codec_err_parse(pkt + 4, plen, &e) == 0) {
        s->resp.errcode = e.code;
        memcpy(s->resp.sqlstate, e.sqlstate, 6);
        size_t n = e.msg_len < sizeof(s->resp.errmsg) - 1 ? e.msg_len : sizeof(s->resp.errmsg) - 1;
        if (n)
            memcpy(s->resp.errmsg, e.msg, n);
        s->resp.errmsg[n] = '\0';
        /* Only what reaches the client: a replayed statement's error
         * (swallowed) is the proxy's business, reported as it decides. */
        if (!s->resp.swallow)
            errstats_backend_err(s);
    }
}

static int handle_eof(struct session *s, const uint8_t *pkt, size_t plen)
{
    struct codec_eof eof;
    if (codec_eof_parse(pkt + 4, plen, &eof) != 0)
        return PROXY_EPROTO;
    s->resp.status = eof.status;
    s->resp.warnings = eof.warnings;
    if (!(eof.status & SERVER_STATUS_IN_TRANS_F) && !s->resp.swallow)
        s->resp.txn_gap = true;
    return 0;
}

/* A server may ask for a local file only in answer to the client's own LOAD
 * DATA LOCAL, from a client that said it can send files. Any other request
 * is a rogue or hijacked server reaching for the client's files. */
static bool client_sends_file(const struct session *s)
{
    if (!(s->caps & CLIENT_LOCAL_FILES_F) || s->resp.swallow)
        return false;
    const uint8_t *q = s->rewritten ? s->rewrite.data : s->in.data;
    size_t len = s->rewritten ? s->rewrite.len : s->cmd_len;
    if (len < 5)
        return false;
    size_t first = codec_u24(q); /* a statement over 16 MiB: its first packet */
    if (first > len - 4)
        first = len - 4;
    return router_stmt_loads_local_file((const char *)q + 5, first - 1);
}

/* ----------------------------------------------------- RS_FIRST */

static int first_prepare(struct session *s, uint8_t *pkt, size_t plen)
{
    struct resp *r = &s->resp;
    if (plen < 12 || pkt[4] != CODEC_OK)
        return PROXY_EPROTO;
    r->prep_stmt_id = codec_u32(pkt + 5);
    r->prep_cols = r->pcols = codec_u16(pkt + 9);
    r->prep_params = r->pparams = codec_u16(pkt + 11);
    if (plen >= 15)
        r->warnings = codec_u16(pkt + 14);
    if (!r->swallow && s->cur_stmt)
        codec_put_u32(pkt + 5, s->cur_stmt->id);
    to(r, r->pparams ? RS_PARAMS : r->pcols ? RS_PCOLS : RS_DONE);
    return emit_pkt(s, pkt, plen + 4);
}

static int first_ok(struct session *s, uint8_t *pkt, size_t plen)
{
    struct resp *r = &s->resp;
    bool more = false;
    int rc;
    if (pkt[4] == CODEC_EOF) { /* COM_SET_OPTION and the like */
        if ((rc = handle_eof(s, pkt, plen)) != 0)
            return rc;
        to(r, RS_DONE);
        return emit_pkt(s, pkt, plen + 4);
    }
    if ((rc = handle_ok(s, pkt, plen, &more)) != 0)
        return rc;
    to(r, more && r->kind != RESP_SIMPLE ? RS_FIRST : RS_DONE);
    return 0;
}

static int first_infile(struct session *s, uint8_t *pkt, size_t plen)
{
    if (!client_sends_file(s))
        return PROXY_EINFILE; /* the caller logs it, naming the server */
    to(&s->resp, RS_INFILE);
    return emit_pkt(s, pkt, plen + 4);
}

/* MariaDB metadata caching left the column definitions out of an execute
 * reply: replay those kept from the prepare, renumbered, and shift what
 * follows past them. Whether the server still sends the EOF after the
 * (omitted) definitions is decided by the next packet: RS_META_EOF. */
static int replay_cached_meta(struct session *s, const uint8_t *pkt)
{
    struct resp *r = &s->resp;
    const struct bstmt *b = s->cur_bstmt;
    if (!b || !b->coldefs.len || b->ncols != r->ncols_left)
        return PROXY_EPROTO;
    uint8_t seq = (uint8_t)(pkt[3] + r->seq_shift + 1);
    size_t off = 0;
    for (uint64_t i = 0; i < r->ncols_left && off + 4 <= b->coldefs.len; i++) {
        uint32_t l = codec_u24(b->coldefs.data + off);
        uint8_t h[4];
        codec_header_write(h, l, seq++);
        if (emit(s, h, 4) != 0 || emit(s, b->coldefs.data + off + 4, l) != 0)
            return PROXY_ENOMEM;
        off += 4u + l;
    }
    r->seq_shift = (uint8_t)(r->seq_shift + r->ncols_left);
    r->ncols_left = 0;
    to(r, RS_META_EOF);
    return 0;
}

/* A column count: a result set follows. */
static int first_result(struct session *s, uint8_t *pkt, size_t plen)
{
    struct resp *r = &s->resp;
    struct codec_reader rd;
    codec_reader_init(&rd, pkt + 4, plen);
    if (codec_read_lenenc(&rd, &r->ncols_left, NULL) != 0 || r->ncols_left == 0 ||
        codec_reader_left(&rd) > (r->cache_meta ? 1u : 0u))
        return PROXY_EPROTO;
    to(r, RS_COLS);
    if (!r->cache_meta || codec_reader_left(&rd) != 1)
        return emit_pkt(s, pkt, plen + 4);
    /* A flag byte says whether the definitions follow; the client did not
     * ask for metadata caching, so it goes. */
    bool follows = pkt[4 + rd.pos] != 0;
    uint8_t hdr[4];
    codec_header_write(hdr, (uint32_t)rd.pos, (uint8_t)(pkt[3] + r->seq_shift));
    if (emit(s, hdr, 4) != 0 || emit(s, pkt + 4, rd.pos) != 0)
        return PROXY_ENOMEM;
    if (follows)
        return 0;
    if (r->kind != RESP_EXECUTE)
        return PROXY_EPROTO;
    return replay_cached_meta(s, pkt);
}

static int on_first(struct session *s, uint8_t *pkt, size_t plen)
{
    struct resp *r = &s->resp;
    uint8_t first = plen ? pkt[4] : 0;
    if (r->kind == RESP_ANY_ONE) {
        to(r, RS_DONE);
        return emit_pkt(s, pkt, plen + 4);
    }
    if (first == CODEC_ERR) {
        handle_err(s, pkt, plen);
        to(r, RS_DONE);
        return emit_pkt(s, pkt, plen + 4);
    }
    if (r->kind == RESP_PREPARE)
        return first_prepare(s, pkt, plen);
    if (first == CODEC_OK || (r->kind == RESP_SIMPLE && is_eof(pkt, plen)))
        return first_ok(s, pkt, plen);
    if (r->kind == RESP_SIMPLE)
        return PROXY_EPROTO;
    if (first == CODEC_LOCAL_INFILE && r->kind == RESP_QUERY)
        return first_infile(s, pkt, plen);
    return first_result(s, pkt, plen);
}

/* ------------------------------------------------ the other states */

/* RS_COLS, RS_PARAMS, RS_PCOLS: one definition. */
/* A column or parameter definition went by: counts it down, and after the
 * last one expects the EOF that ends them. False outside the definitions. */
static bool definition_seen(struct resp *r)
{
    uint64_t left;
    enum resp_state next;
    if (r->st == RS_COLS) {
        left = --r->ncols_left;
        next = RS_COLS_EOF;
    } else if (r->st == RS_PARAMS) {
        left = --r->pparams;
        next = RS_PARAMS_EOF;
    } else if (r->st == RS_PCOLS) {
        left = --r->pcols;
        next = RS_PCOLS_EOF;
    } else {
        return false;
    }
    if (left == 0)
        to(r, next);
    return true;
}

static int on_definition(struct session *s, uint8_t *pkt, size_t plen)
{
    struct resp *r = &s->resp;
    int rc = handle_coldef(s, pkt, plen);
    if (rc != 0)
        return rc;
    (void)definition_seen(r);
    return 0;
}

static int on_cols_eof(struct session *s, uint8_t *pkt, size_t plen)
{
    struct resp *r = &s->resp;
    if (!is_eof(pkt, plen) || handle_eof(s, pkt, plen) != 0)
        return PROXY_EPROTO;
    if (r->kind == RESP_EXECUTE && r->cache_meta && s->meta.len && s->cur_bstmt) {
        /* The definitions the server sent are the ones to replay next. */
        if (codec_buf_append(&s->meta, pkt, plen + 4) != 0)
            return PROXY_ENOMEM;
        codec_buf_free(&s->cur_bstmt->coldefs);
        s->cur_bstmt->coldefs = s->meta;
        codec_buf_init(&s->meta);
    }
    if (r->kind == RESP_EXECUTE && (r->status & SERVER_STATUS_CURSOR_EXISTS_F)) {
        to(r, RS_DONE); /* rows come with COM_STMT_FETCH */
        return emit_pkt(s, pkt, plen + 4);
    }
    to(r, RS_ROWS);
    return deprecate_eof(s) ? drop_pkt(s) : emit_pkt(s, pkt, plen + 4);
}

/* After replayed definitions: no EOF from the server means the client gets
 * the one kept with the definitions, and this packet is the first row. */
static int on_meta_eof(struct session *s, uint8_t *pkt, size_t plen)
{
    struct resp *r = &s->resp;
    if (is_eof(pkt, plen)) {
        to(r, RS_COLS_EOF);
        return on_cols_eof(s, pkt, plen);
    }
    to(r, RS_ROWS);
    r->rows_sent++;
    if (deprecate_eof(s))
        return emit_pkt(s, pkt, plen + 4);
    const struct bstmt *b = s->cur_bstmt;
    size_t off = 0;
    for (uint16_t i = 0; i < b->ncols && off + 4 <= b->coldefs.len; i++)
        off += 4u + codec_u24(b->coldefs.data + off);
    if (off + 4 > b->coldefs.len)
        return PROXY_EPROTO;
    uint8_t h[4];
    uint32_t l = codec_u24(b->coldefs.data + off);
    codec_header_write(h, l, (uint8_t)(pkt[3] + r->seq_shift));
    if (emit(s, h, 4) != 0 || emit(s, b->coldefs.data + off + 4, l) != 0)
        return PROXY_ENOMEM;
    r->seq_shift++;
    return emit_pkt(s, pkt, plen + 4);
}

/* A row of an internal query: only its first column matters. */
static int capture_row(struct resp *r, const uint8_t *pkt, size_t plen)
{
    struct codec_reader rd;
    const uint8_t *v;
    size_t vlen;
    r->captured_null = plen && pkt[4] == 0xfb;
    codec_reader_init(&rd, pkt + 4, plen);
    if (!r->captured_null && codec_read_lenenc_str(&rd, &v, &vlen) == 0 &&
        vlen < sizeof(r->captured)) {
        memcpy(r->captured, v, vlen);
        r->captured[vlen] = '\0';
    }
    return 0;
}

/* The EOF or ERR that ends rows (or a field list). */
static int end_of_rows(struct session *s, uint8_t *pkt, size_t plen)
{
    struct resp *r = &s->resp;
    if (pkt[4] == CODEC_ERR) {
        handle_err(s, pkt, plen);
        to(r, RS_DONE);
        return emit_pkt(s, pkt, plen + 4);
    }
    int rc = handle_eof(s, pkt, plen);
    if (rc != 0)
        return rc;
    bool more =
        (r->status & SERVER_MORE_RESULTS_EXISTS_F) && r->st == RS_ROWS && r->kind != RESP_FETCH;
    to(r, more ? RS_FIRST : RS_DONE);
    if (deprecate_eof(s)) {
        /* The client wants an OK (0xfe header) where the EOF was. */
        r->sent_any = true;
        if (codec_write_ok_eof(&s->out, (uint8_t)(pkt[3] + r->seq_shift), r->status, r->warnings) !=
            0)
            return PROXY_ENOMEM;
        return 0;
    }
    return emit_pkt(s, pkt, plen + 4);
}

static int on_row(struct session *s, uint8_t *pkt, size_t plen)
{
    bool last = plen && (is_eof(pkt, plen) || pkt[4] == CODEC_ERR);
    if (!last && s->resp.capture_row)
        return capture_row(&s->resp, pkt, plen);
    if (!last)
        return emit_pkt(s, pkt, plen + 4); /* a row held whole (it was short) */
    return end_of_rows(s, pkt, plen);
}

static int on_field(struct session *s, uint8_t *pkt, size_t plen)
{
    if (plen && (is_eof(pkt, plen) || pkt[4] == CODEC_ERR))
        return end_of_rows(s, pkt, plen);
    return handle_coldef(s, pkt, plen);
}

/* RS_PARAMS_EOF, RS_PCOLS_EOF: the EOF after a prepare's definitions. */
static int on_defs_eof(struct session *s, uint8_t *pkt, size_t plen)
{
    struct resp *r = &s->resp;
    if (!plen || pkt[4] != CODEC_EOF)
        return PROXY_EPROTO;
    if (r->st == RS_PCOLS_EOF && codec_buf_append(&s->meta, pkt, plen + 4) != 0)
        return PROXY_ENOMEM;
    to(r, r->st == RS_PARAMS_EOF && r->pcols ? RS_PCOLS : RS_DONE);
    return deprecate_eof(s) ? drop_pkt(s) : emit_pkt(s, pkt, plen + 4);
}

typedef int (*state_fn)(struct session *s, uint8_t *pkt, size_t plen);

static const state_fn on_state[] = {
    [RS_FIRST] = on_first,         [RS_COLS] = on_definition,  [RS_COLS_EOF] = on_cols_eof,
    [RS_META_EOF] = on_meta_eof,   [RS_ROWS] = on_row,         [RS_PARAMS] = on_definition,
    [RS_PARAMS_EOF] = on_defs_eof, [RS_PCOLS] = on_definition, [RS_PCOLS_EOF] = on_defs_eof,
    [RS_FIELDS] = on_field,
};

/* Handles one whole packet (header included) in the current state. */
static int handle_packet(struct session *s, uint8_t *pkt, size_t plen)
{
    enum resp_state st = s->resp.st;
    if ((size_t)st >= sizeof(on_state) / sizeof(on_state[0]) || !on_state[st])
        return PROXY_EPROTO;
    return on_state[st](s, pkt, plen);
}

/* ------------------------------------------------------- framing */

/* Packets of one reply are numbered one after the other: a server that
 * skips or repeats one is broken, or is not the server it was. */
static int check_seq(struct resp *r, uint8_t seq)
{
    if (r->seq_known && seq != (uint8_t)(r->last_seq + 1))
        return PROXY_EPROTO;
    r->seq_known = true;
    r->last_seq = seq;
    return 0;
}

void response_expect_reply(struct resp *r, const uint8_t *data, size_t len)
{
    size_t pos = 0;
    uint8_t seq = 0;
    while (len - pos >= 4) {
        seq = data[pos + 3];
        pos += 4u + codec_u24(data + pos);
    }
    if (pos == len && len > 0) {
        r->seq_known = true;
        r->last_seq = seq;
    }
}

/* Whether the packet starting at p passes through as it arrives (header
 * now, payload as it comes) rather than whole. Needs 5 bytes in the row
 * states: STREAM_WAIT when they are not there yet. */
enum stream_how { STREAM_WAIT = -1, STREAM_WHOLE = 0, STREAM_PASS = 1 };
static enum stream_how streams(const struct resp *r, const uint8_t *p, size_t avail, uint32_t plen,
                               bool cont)
{
    if (cont)
        return STREAM_PASS; /* the rest of a 16 MiB packet */
    switch (r->st) {
    case RS_COLS:
    case RS_PARAMS:
    case RS_PCOLS:
        /* Definitions are rewritten (extended metadata) or kept (for
         * metadata caching): whole packets then. */
        return !r->strip_meta && !capturing_meta(r) ? STREAM_PASS : STREAM_WHOLE;
    case RS_FIELDS:
        if (r->strip_meta)
            return STREAM_WHOLE;
        /* fall through */
    case RS_ROWS:
        if (avail < 5 && plen > 0)
            return STREAM_WAIT;
        if (plen && ((p[4] == CODEC_EOF && plen < 9) || p[4] == CODEC_ERR))
            return STREAM_WHOLE;
        return !r->capture_row ? STREAM_PASS : STREAM_WHOLE;
    default:
        return STREAM_WHOLE;
    }
}

/* Passes a streamed packet's header on; its payload follows as it arrives. */
static int stream_header(struct session *s, uint8_t *p, uint32_t plen, bool cont)
{
    struct resp *r = &s->resp;
    if (!cont && !definition_seen(r) && r->st == RS_ROWS)
        r->rows_sent++;
    int rc = check_seq(r, p[3]);
    if (rc != 0 || (rc = emit_pkt(s, p, 4)) != 0)
        return rc;
    s->be->rpos += 4;
    r->pkt_left = plen;
    return 0;
}

/* Passes on what has arrived of a streamed packet's payload. */
static int stream_payload(struct session *s, uint8_t *p, size_t avail)
{
    struct resp *r = &s->resp;
    size_t take = avail < r->pkt_left ? avail : r->pkt_left;
    if (emit(s, p, take) != 0)
        return PROXY_ENOMEM;
    s->be->rpos += take;
    r->pkt_left -= (uint32_t)take;
    return 0;
}

/* Makes room to hold a whole packet of plen bytes at the buffer's front. */
static int hold_whole(struct backend *be, uint8_t *p, size_t avail, uint32_t plen)
{
    if (be->rbuf.cap >= be->rpos + plen + 4u)
        return 0;
    memmove(be->rbuf.data, p, avail);
    be->rbuf.len = avail;
    be->rpos = 0;
    return codec_buf_reserve(&be->rbuf, plen + 4u) == 0 ? 0 : PROXY_ENOMEM;
}

int response_parse(struct session *s)
{
    struct backend *be = s->be;
    struct resp *r = &s->resp;
    int rc;
    while (r->st != RS_DONE && r->st != RS_INFILE) {
        size_t avail = be->rbuf.len - be->rpos;
        if (avail == 0)
            return 0; /* (and an empty buffer may have no memory: no NULL + 0) */
        uint8_t *p = be->rbuf.data + be->rpos;
        if (r->pkt_left) {
            if ((rc = stream_payload(s, p, avail)) != 0)
                return rc;
            continue;
        }
        if (avail < 4)
            return 0;
        uint32_t plen = codec_u24(p);
        bool cont = r->continuation;
        enum stream_how stream = streams(r, p, avail, plen, cont);
        if (stream == STREAM_WAIT)
            return 0;
        if (stream == STREAM_PASS) {
            r->continuation = plen == CODEC_MAX_PAYLOAD;
            if ((rc = stream_header(s, p, plen, cont)) != 0)
                return rc;
            continue;
        }
        if (avail < plen + 4u)
            return hold_whole(be, p, avail, plen);
        r->continuation = plen == CODEC_MAX_PAYLOAD;
        if ((rc = check_seq(r, p[3])) != 0 || (rc = handle_packet(s, p, plen)) != 0)
            return rc;
        be->rpos += plen + 4u;
    }
    return r->st == RS_DONE ? 1 : 0;
}

void response_file_sent(struct resp *r)
{
    r->continuation = false;
    to(r, RS_FIRST);
}

void response_start(struct session *s, enum resp_kind kind, bool swallow,
                    const struct resp_peer *peer)
{
    struct resp *r = &s->resp;
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->swallow = swallow;
    r->peer = *peer;
    r->strip_meta = (peer->ext_caps & MARIADB_EXT_EXTENDED_METADATA) != 0;
    r->cache_meta = (peer->ext_caps & MARIADB_EXT_CACHE_METADATA) != 0;
    codec_buf_reset(&s->meta);
    to(r, kind == RESP_FETCH ? RS_ROWS : kind == RESP_FIELD_LIST ? RS_FIELDS : RS_FIRST);
}
