/*
 * The backend half of a client session: borrow a pooled connection, bring it
 * to the session's state, forward the command and stream the response back.
 *
 * Steps of one command (enum bstep), each waiting for one backend reply:
 *
 *   backend_begin --borrow (maybe queued)--> backend_on_ready
 *     -> BS_SET_OPTION  multi-statement option differs (COM_SET_OPTION)
 *     -> BS_INIT_DB     schema differs (COM_INIT_DB)
 *     -> BS_SET_VARS    tracked variables differ (one SET statement)
 *     -> BS_REPREPARE   statement not prepared on this backend yet
 *     -> BS_FORWARD     the client's command; response relayed as it streams
 *   -> finish: session state updated from the status flags and session
 *      tracking; the connection goes back to the pool unless pinned.
 *
 * Relay: bytes read from the backend land in be->rbuf and are walked packet
 * by packet (struct resp). Packets whose content matters (OK, ERR, EOF,
 * column counts, prepare replies) are handled whole; rows and column
 * definitions are passed through as they arrive, a 16 MiB row included, so
 * no result set is held in memory. Output goes to the client's `out` buffer;
 * while a client write is in flight, backend reads pause (back-pressure).
 */
#include "common/common.h"
#include "proxy/proxy_int.h"
#include "proxy/response.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define OUT_HIGH_WATER (256 * 1024) /* flush to the client above this */
#define AUTO_INC_KEEP 5             /* statements that keep the backend after an insert id */

static void on_backend_io(void *arg, int status, int events);
static void acquire(struct session *s);
static void run_step(struct session *s);
static void finish_command(struct session *s);

/* ------------------------------------------------------------ writing */

static void update_poll(struct session *s)
{
    if (!s->conn)
        return;
    int ev = 0;
    if (!s->paused)
        ev |= UV_READABLE;
    if (s->be->wq.len > s->be->wq_off)
        ev |= UV_WRITABLE;
    pool_conn_watch(s->conn, ev, on_backend_io, s);
}

size_t backend_queued(const struct session *s)
{
    return s->be ? s->be->wq.len - s->be->wq_off : 0;
}

/* Writes to the backend now, queueing what the socket does not take. */
int backend_send(struct session *s, const uint8_t *data, size_t len)
{
    struct backend *be = s->be;
    size_t off = 0;
    response_expect_reply(&s->resp, data, len);
    pool_conn_count(s->conn, 0, len, 0);
    if (be->wq.len == be->wq_off) {
        be->wq.len = be->wq_off = 0;
        while (off < len) {
            ssize_t n = send(pool_conn_fd(s->conn), data + off, len - off, MSG_NOSIGNAL);
            if (n > 0) {
                off += (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            return PROXY_EIO;
        }
    }
    if (off < len) {
        if (codec_buf_append(&be->wq, data + off, len - off) != 0)
            return PROXY_ENOMEM;
        update_poll(s);
    }
    return 0;
}

static int flush_wq(struct session *s)
{
    struct backend *be = s->be;
    while (be->wq_off < be->wq.len) {
        ssize_t n = send(pool_conn_fd(s->conn), be->wq.data + be->wq_off, be->wq.len - be->wq_off,
                         MSG_NOSIGNAL);
        if (n > 0) {
            be->wq_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return PROXY_EIO;
    }
    be->wq.len = be->wq_off = 0;
    return 0;
}

static int send_command(struct session *s, uint8_t cmd, const void *arg, size_t len)
{
    struct codec_buf *b = &s->be->scratch;
    codec_buf_reset(b);
    uint8_t hdr[5];
    codec_header_write(hdr, (uint32_t)(len + 1), 0);
    hdr[4] = cmd;
    if (codec_buf_append(b, hdr, 5) != 0 || (len && codec_buf_append(b, arg, len) != 0))
        return PROXY_ENOMEM;
    return backend_send(s, b->data, b->len);
}

/* ------------------------------------------------------ detach/attach */

/* Gives the backend back (reusable) or closes it. */
void backend_detach(struct session *s, bool reusable)
{
    if (!s->conn)
        return;
    struct backend *be = s->be;
    if (be && (be->wq.len > be->wq_off || be->rpos < be->rbuf.len))
        reusable = false; /* unfinished traffic: its state is unknown */
    if (s->conn_killed)
        reusable = false; /* a KILL QUERY still on its way would hit the next borrower */
    s->conn_killed = false;
    if (be) {
        be->rbuf.len = be->rpos = 0;
        be->wq.len = be->wq_off = 0;
    }
    pool_conn_watch(s->conn, UV_READABLE, NULL, NULL);
    pool_release(s->conn, reusable);
    s->conn = NULL;
    s->be = NULL;
    s->paused = false;
}

static void fail_command(struct session *s, uint16_t code, const char *sqlstate, const char *msg)
{
    if (!s->resp.sent_any || s->resp.swallow || s->step != BS_FORWARD) {
        /* After the last packet of a 16 MiB+ message, not after the first. */
        session_send_error(s, session_reply_seq(s), code, sqlstate, msg);
    } else if (s->resp.pkt_left) {
        /* Cut inside a packet: an error packet would read as the rest of
         * it. Only the closed connection can tell the client. */
        s->close_after_write = true;
    } else {
        /* Mid-response: the client has part of a result; end it with an
         * error packet and close, as a server that died would. */
        session_send_error(s, 0, code, sqlstate, msg);
        s->close_after_write = true;
    }
    finish_command(s);
}

/* A failed backend may be retried only where the client cannot tell: an
 * autocommit read outside any transaction or pinned state, none of whose
 * response reached the client. Writes never are (the server may have applied
 * them before dying), nor anything tied to that connection. */
static bool may_retry(const struct session *s)
{
    if (s->cmd != CODEC_COM_QUERY || s->in_txn || s->pin || s->resp.sent_any ||
        s->retries >= s->max_retries)
        return false;
    const uint8_t *q = s->rewritten ? s->rewrite.data : s->in.data;
    size_t len = s->rewritten ? s->rewrite.len : s->cmd_len;
    if (len < 5 || len - 5 >= CODEC_MAX_PAYLOAD)
        return false; /* a statement split over packets is not replayed */
    return router_stmt_is_read((const char *)q + 5, len - 5);
}

/* The backend connection is gone with whatever the session had on it: a
 * transaction or pinned state cannot move to another server, so such a
 * session ends after its error (close_after_write). */
static void drop_backend(struct session *s)
{
    bool lost_state = s->in_txn || (s->pin & ~PIN_CURSOR);
    backend_detach(s, false);
    s->pin = 0;
    s->keep_next = 0;
    s->in_txn = false;
    if (lost_state)
        s->close_after_write = true;
}

static void backend_broken(struct session *s, const char *why)
{
    if (may_retry(s)) {
        s->retries++;
        slog_warn(s,
                  "backend %s %s; running the read again in hostgroup %d "
                  "(retry %d of %d)",
                  s->conn ? pool_conn_server_name(s->conn) : "?", why, s->hostgroup, s->retries,
                  s->max_retries);
        backend_detach(s, false);
        s->keep_next = 0; /* the connection kept for SHOW WARNINGS is gone */
        session_set_state(s, SS_BACKEND);
        acquire(s);
        return;
    }
    slog_warn(s, "backend %s %s", s->conn ? pool_conn_server_name(s->conn) : "?", why);
    drop_backend(s);
    fail_command(s, 2013, "HY000", "Lost connection to backend server during query");
}

/* A write failed or the reply came numbered out of order: a server that
 * refused the message answered with an ERR before closing (refusal.c), and
 * the session ends with that answer, as a direct one would; anything else
 * is a broken backend. */
static void backend_failed(struct session *s, const char *why)
{
    if (!backend_take_refusal(s)) {
        backend_broken(s, why);
        return;
    }
    drop_backend(s);
    s->close_after_write = true;
    finish_command(s);
}

/* A rule's timeout passed while the statement ran (ProxySQL's error and
 * message). The backend's thread is killed over a separate connection and
 * this one is closed: waiting for the kill's ERR on it would tie the
 * client's answer to how fast the server notices. Outside a transaction
 * the session carries on with its next statement; a transaction or other
 * pinned state dies with the connection, and the session with it, as for a
 * broken backend. */
static void on_query_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    if (s->state != SS_BACKEND || !s->conn || s->step != BS_FORWARD || s->timeout_ms <= 0)
        return;
    slog_warn(s,
              "statement on %s ran past the rule's timeout of %d ms; "
              "killing it",
              pool_conn_server_name(s->conn), s->timeout_ms);
    backend_kill_query(s);
    if (s->writing) {
        /* Part of the result is being written and nothing may be appended
         * to `out` meanwhile: the closed connection is the message. */
        backend_detach(s, false);
        session_close(s);
        return;
    }
    drop_backend(s);
    fail_command(s, 1907, "HY000", "Query execution was interrupted, query_timeout exceeded");
}

/* ---------------------------------------------------------- completion */

static void finish_command(struct session *s)
{
    if (s->timeout_ms > 0)
        uv_timer_stop(&s->timer);
    if (s->qc_capture)
        qc_abandon(s);
    if (s->conn) {
        if (s->pin == 0 && !s->in_txn && s->keep_next == 0 && !s->close_after_write)
            backend_detach(s, true);
        else if (s->close_after_write)
            backend_detach(s, false);
        /* else the session keeps it; its poll stays on so that a backend
         * that goes away meanwhile is noticed (on_backend_io) */
    }
    session_command_done(s);
}

static void forward_done(struct session *s)
{
    cmdstats_record_digest(s, s->conn ? pool_conn_hostgroup(s->conn) : s->hostgroup);
    qc_finish(s);
    if (s->cmd == CODEC_COM_STMT_PREPARE)
        bstmt_prepared(s);
    if (s->cmd == CODEC_COM_INIT_DB && !s->resp.error) {
        /* Schema tracking reports it too; the command text is the fallback. */
        size_t n = s->cmd_len - 5 > 192 ? 192 : s->cmd_len - 5;
        snprintf(s->schema, sizeof(s->schema), "%.*s", (int)n, (const char *)s->in.data + 5);
        snprintf(s->be->schema, sizeof(s->be->schema), "%s", s->schema);
    }
    if (s->keep_next > 0 && s->cmd != CODEC_COM_STMT_PREPARE)
        s->keep_next--;
    pinstats_after_command(s);
    /* MariaDB closes the connection after 1153 (over its max_allowed_packet). */
    if (s->resp.error && s->resp.errcode == 1153)
        s->close_after_write = true;
    finish_command(s);
}

/* ---------------------------------------------------------------- I/O */

static void on_step_reply(struct session *s);

static void process_rbuf(struct session *s)
{
    int rc = response_parse(s);
    if (rc < 0) {
        backend_failed(s, proxy_strerror(rc));
        return;
    }
    if (s->out.len >= OUT_HIGH_WATER || rc == 1 || s->resp.st == RS_INFILE) {
        qc_take(s); /* the flush empties `out` */
        session_flush(s);
        if (s->state == SS_CLOSING)
            return;
        s->qc_off = s->out.len;
    }
    if (rc == 1) {
        if (s->be->rpos != s->be->rbuf.len) {
            backend_broken(s, "sent more than its response");
            return;
        }
        s->be->rbuf.len = s->be->rpos = 0;
        on_step_reply(s);
        return;
    }
    if (s->resp.st == RS_INFILE) {
        if (s->be->rpos == s->be->rbuf.len)
            s->be->rbuf.len = s->be->rpos = 0;
        backend_forward_infile(s);
        return;
    }
    if (s->writing && !s->paused) {
        s->paused = true;
        update_poll(s);
    }
}

void backend_resume(struct session *s)
{
    if (!s->conn)
        return;
    s->qc_off = s->out.len; /* the finished write emptied `out` */
    if (s->paused) {
        s->paused = false;
        update_poll(s);
    }
    if (s->be->rpos < s->be->rbuf.len && s->resp.st != RS_DONE)
        process_rbuf(s);
}

static void read_backend(struct session *s)
{
    struct backend *be = s->be;
    if (backend_rbuf_room(be) != 0) {
        backend_broken(s, "out of memory");
        return;
    }
    ssize_t n =
        recv(pool_conn_fd(s->conn), be->rbuf.data + be->rbuf.len, be->rbuf.cap - be->rbuf.len, 0);
    if (n == 0) {
        backend_broken(s, "closed the connection");
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        backend_broken(s, strerror(errno));
        return;
    }
    be->rbuf.len += (size_t)n;
    pool_conn_count(s->conn, 0, 0, (uint64_t)n);
    process_rbuf(s);
}

static void on_backend_io(void *arg, int status, int events)
{
    struct session *s = arg;
    if (!s || s->state == SS_CLOSING || !s->conn)
        return;
    if (status < 0) {
        /* libuv reports POLLERR (a reset) as an error, the ERR before it unread. */
        backend_failed(s, uv_strerror(status));
        return;
    }
    if (events & UV_WRITABLE) {
        if (flush_wq(s) != 0) {
            backend_failed(s, "write failed");
            return;
        }
        update_poll(s);
        /* LOAD DATA LOCAL's file or pipelined long data may flow again. */
        if (s->state == SS_IDLE)
            session_process_input(s);
        else
            session_update_reading(s);
        if (s->state == SS_CLOSING || !s->conn)
            return;
    }
    if (!(events & UV_READABLE) || s->paused)
        return;
    if (s->state != SS_BACKEND) {
        /* Nothing asked: the server closed a connection this session kept
         * (KILL, wait_timeout, restart). Its state is gone with it. */
        slog_warn(s, "kept backend %s went away", pool_conn_server_name(s->conn));
        bool lost_state = s->in_txn || s->pin;
        backend_detach(s, false);
        s->pin = 0;
        s->keep_next = 0;
        s->in_txn = false;
        if (lost_state)
            session_close(s);
        return;
    }
    read_backend(s);
}

/* LOAD DATA LOCAL: pass the client's file packets on until the empty one. */
void backend_forward_infile(struct session *s)
{
    while (s->resp.st == RS_INFILE && s->in.len - s->cmd_len >= 4) {
        uint8_t *p = s->in.data + s->cmd_len;
        uint32_t plen = codec_u24(p);
        if (s->in.len - s->cmd_len < plen + 4u)
            break;
        if (backend_send(s, p, plen + 4u) != 0) {
            backend_broken(s, "write failed");
            return;
        }
        size_t rest = s->in.len - s->cmd_len - (plen + 4u);
        memmove(p, p + plen + 4, rest);
        s->in.len -= plen + 4u;
        if (plen == 0) {
            response_file_sent(&s->resp);
            update_poll(s);
            if (s->be->rpos < s->be->rbuf.len)
                process_rbuf(s);
        }
    }
}

/* ---------------------------------------------------------- the steps */

static void start_resp(struct session *s, enum resp_kind kind, bool swallow)
{
    struct resp_peer peer = {
        .caps = pool_conn_caps(s->conn),
        .ext_caps = pool_conn_ext_caps(s->conn),
        .hostgroup = pool_conn_hostgroup(s->conn),
    };
    response_start(s, kind, swallow, &peer);
}

static void step_error(struct session *s)
{
    /* A prelude command failed: its error goes to the client instead of the
     * statement, which never ran. */
    session_send_error(s, 1, s->resp.errcode ? s->resp.errcode : 1105,
                       s->resp.sqlstate[0] ? s->resp.sqlstate : "HY000",
                       s->resp.errmsg[0] ? s->resp.errmsg : "backend error");
    s->resp.swallow = false;
    finish_command(s);
}

/* Builds the COM_STMT_EXECUTE for the backend: its statement id, and the
 * parameter types the client bound earlier (the backend statement may never
 * have seen them). */
static int send_execute(struct session *s, uint32_t backend_id)
{
    struct cstmt *st = s->cur_stmt;
    uint8_t *msg = s->in.data;
    size_t len = s->cmd_len;
    uint32_t plen = codec_u24(msg);
    codec_put_u32(msg + 5, backend_id);
    if (plen == CODEC_MAX_PAYLOAD || st->nparams == 0 || plen < 10)
        return backend_send(s, msg, len);
    size_t bitmap = (st->nparams + 7u) / 8u;
    size_t flag_off = 4 + 10 + bitmap;
    if (flag_off >= 4 + plen)
        return backend_send(s, msg, len);
    if (msg[flag_off] == 1) {
        size_t types_len = 2u * st->nparams;
        if (flag_off + 1 + types_len <= 4 + plen) {
            uint8_t *nt = realloc(st->param_types, types_len);
            if (nt) {
                memcpy(nt, msg + flag_off + 1, types_len);
                st->param_types = nt;
                st->have_types = true;
            }
        }
        return backend_send(s, msg, len);
    }
    if (!st->have_types || plen + 2u * st->nparams >= CODEC_MAX_PAYLOAD)
        return backend_send(s, msg, len);
    /* One buffer, one send(): several small writes would also meet Nagle. */
    size_t types_len = 2u * st->nparams;
    struct codec_buf *b = &s->be->scratch;
    codec_buf_reset(b);
    uint8_t hdr[4];
    codec_header_write(hdr, (uint32_t)(plen + types_len), msg[3]);
    if (codec_buf_append(b, hdr, 4) != 0 || codec_buf_append(b, msg + 4, flag_off - 4) != 0 ||
        codec_buf_u8(b, 1) != 0 || codec_buf_append(b, st->param_types, types_len) != 0 ||
        codec_buf_append(b, msg + flag_off + 1, len - flag_off - 1) != 0)
        return PROXY_ENOMEM;
    return backend_send(s, b->data, b->len);
}

static void evict_lru(struct session *s)
{
    struct backend *be = s->be;
    int max = s->cfg->max_stmts_per_backend > 0 ? s->cfg->max_stmts_per_backend : 50;
    while (be->n_stmts >= max && be->lru_tail) {
        struct bstmt *b = be->lru_tail;
        bstmt_unlink(be, b);
        be->n_stmts--;
        uint8_t idb[4];
        codec_put_u32(idb, b->backend_id);
        (void)send_command(s, CODEC_COM_STMT_CLOSE, idb, 4); /* no reply to wait for */
        if (s->cur_bstmt == b)
            s->cur_bstmt = NULL;
        bstmt_free(b);
    }
}

/* The response a command gets when it is relayed as the client sent it. */
static enum resp_kind relayed_kind(uint8_t cmd)
{
    switch (cmd) {
    case CODEC_COM_QUERY:
        return RESP_QUERY;
    case CODEC_COM_FIELD_LIST:
        return RESP_FIELD_LIST;
    case CODEC_COM_STATISTICS:
        return RESP_ANY_ONE;
    case CODEC_COM_STMT_PREPARE:
        return RESP_PREPARE;
    case CODEC_COM_STMT_FETCH:
        return RESP_FETCH;
    case CODEC_COM_STMT_SEND_LONG_DATA:
        return RESP_NONE;
    default: /* COM_INIT_DB, COM_STMT_RESET */
        return RESP_SIMPLE;
    }
}

/* A statement command names the backend's statement: the session's one,
 * found in the connection's cache by its text. 0, 1 when the command was
 * answered with an error instead, or the send's error. */
static int forward_stmt(struct session *s)
{
    struct bstmt *b = bstmt_find(s->be, s->cur_stmt->hash, s->cur_stmt->sql, s->cur_stmt->sql_len);
    if (!b) {
        fail_command(s, 1243, "HY000", "Prepared statement lost on backend");
        return 1;
    }
    s->cur_bstmt = b;
    bstmt_unlink(s->be, b);
    bstmt_push_front(s->be, b);
    if (s->cmd == CODEC_COM_STMT_EXECUTE) {
        start_resp(s, RESP_EXECUTE, false);
        if (s->timeout_ms > 0)
            uv_timer_start(&s->timer, on_query_timeout, (uint64_t)s->timeout_ms, 0);
        return send_execute(s, b->backend_id);
    }
    if (s->cmd == CODEC_COM_STMT_SEND_LONG_DATA)
        s->pin |= PIN_LONG_DATA;
    else
        start_resp(s, relayed_kind(s->cmd), false);
    codec_put_u32(s->in.data + 5, b->backend_id);
    return backend_send(s, s->in.data, s->cmd_len);
}

static int forward_query(struct session *s)
{
    start_resp(s, RESP_QUERY, false);
    qc_begin(s);
    if (s->timeout_ms > 0)
        uv_timer_start(&s->timer, on_query_timeout, (uint64_t)s->timeout_ms, 0);
    if (s->rewritten)
        return backend_send(s, s->rewrite.data, s->rewrite.len);
    return backend_send(s, s->in.data, s->cmd_len);
}

static void forward(struct session *s)
{
    int rc;
    s->step = BS_FORWARD;
    pool_conn_count(s->conn, 1, 0, 0);
    s->qc_capture = false;
    switch (s->cmd) {
    case CODEC_COM_QUERY:
        rc = forward_query(s);
        break;
    case CODEC_COM_STMT_PREPARE:
        evict_lru(s);
        /* fall through */
    case CODEC_COM_INIT_DB:
    case CODEC_COM_FIELD_LIST:
    case CODEC_COM_STATISTICS:
        start_resp(s, relayed_kind(s->cmd), false);
        rc = backend_send(s, s->in.data, s->cmd_len);
        break;
    default: /* the statement commands */
        rc = forward_stmt(s);
        if (rc == 1)
            return;
    }
    if (rc != 0) {
        backend_failed(s, "write failed");
        return;
    }
    update_poll(s);
    /* COM_STMT_SEND_LONG_DATA has no reply: the command is over. */
    if (s->cmd == CODEC_COM_STMT_SEND_LONG_DATA)
        session_command_done(s);
}

/* Runs the next prelude step that is needed, or forwards the command. */
/* One prelude step: it sent a command (its reply comes to on_step_reply),
 * found nothing to do, or could not write. */
enum step_result { STEP_NEXT, STEP_SENT, STEP_BROKEN };

/* Sends an internal command whose reply the client never sees. */
static enum step_result send_internal(struct session *s, enum resp_kind kind, uint8_t cmd,
                                      const void *arg, size_t len)
{
    start_resp(s, kind, true);
    return send_command(s, cmd, arg, len) == 0 ? STEP_SENT : STEP_BROKEN;
}

/* A causal read waits for its GTID, unless the monitor already saw this
 * replica apply it. */
static enum step_result step_gtid_wait(struct session *s)
{
    if (!s->want_gtid[0] || pool_conn_hostgroup(s->conn) == s->gtid_fallback_hg ||
        pool_conn_has_gtid(s->conn, s->want_gtid)) {
        s->want_gtid[0] = '\0';
        return STEP_NEXT;
    }
    char sql[160];
    int timeout = s->cfg->causal_reads_timeout_ms;
    int n = snprintf(sql, sizeof(sql), "SELECT MASTER_GTID_WAIT('%s', %d.%03d)", s->want_gtid,
                     timeout / 1000, timeout % 1000);
    enum step_result r = send_internal(s, RESP_QUERY, CODEC_COM_QUERY, sql, (size_t)n);
    s->resp.capture_row = true;
    return r;
}

static enum step_result step_set_option(struct session *s)
{
    if (s->be->multi_statements == s->multi_statements)
        return STEP_NEXT;
    uint8_t opt[2];
    codec_put_u16(opt, s->multi_statements ? 0 : 1);
    return send_internal(s, RESP_SIMPLE, CODEC_COM_SET_OPTION, opt, 2);
}

static enum step_result step_init_db(struct session *s)
{
    if (!s->schema[0] || strcmp(s->be->schema, s->schema) == 0)
        return STEP_NEXT;
    return send_internal(s, RESP_SIMPLE, CODEC_COM_INIT_DB, s->schema, strlen(s->schema));
}

/* One SET with the tracked variables that differ. */
static enum step_result step_set_vars(struct session *s)
{
    struct backend *be = s->be;
    if (be->synced_serial == s->serial && be->synced_version == s->vars_version)
        return STEP_NEXT;
    struct codec_buf sql;
    codec_buf_init(&sql);
    int n = varset_diff_sql(&s->vars, &be->vars, &sql);
    enum step_result r = n < 0 ? STEP_BROKEN : STEP_NEXT;
    if (n > 0)
        r = send_internal(s, RESP_SIMPLE, CODEC_COM_QUERY, sql.data, sql.len);
    codec_buf_free(&sql);
    if (n == 0) {
        be->synced_serial = s->serial;
        be->synced_version = s->vars_version;
    }
    return r;
}

/* The id lives on the connection that ran the insert; this one gets the
 * session's value so LAST_INSERT_ID() answers it. */
static enum step_result step_last_id(struct session *s)
{
    if (!(s->stmt_flags & ROUTER_STMT_LAST_INSERT_ID) || s->be->last_insert_id == s->last_insert_id)
        return STEP_NEXT;
    char sql[64];
    int n = snprintf(sql, sizeof(sql), "DO LAST_INSERT_ID(%llu)",
                     (unsigned long long)s->last_insert_id);
    return send_internal(s, RESP_SIMPLE, CODEC_COM_QUERY, sql, (size_t)n);
}

/* A prepared statement this backend has not seen is prepared first. */
static enum step_result step_reprepare(struct session *s)
{
    const struct cstmt *st = s->cur_stmt;
    if (!st || s->cmd == CODEC_COM_STMT_PREPARE ||
        bstmt_find(s->be, st->hash, st->sql, st->sql_len))
        return STEP_NEXT;
    evict_lru(s);
    return send_internal(s, RESP_PREPARE, CODEC_COM_STMT_PREPARE, st->sql, st->sql_len);
}

typedef enum step_result (*step_fn)(struct session *s);

static const step_fn prelude[] = {
    [BS_GTID_WAIT] = step_gtid_wait, [BS_SET_OPTION] = step_set_option,
    [BS_INIT_DB] = step_init_db,     [BS_SET_VARS] = step_set_vars,
    [BS_LAST_ID] = step_last_id,     [BS_REPREPARE] = step_reprepare,
};

/* Runs the prelude steps from s->step on, then forwards the command. */
static void run_step(struct session *s)
{
    for (; s->step != BS_FORWARD; s->step++) {
        enum step_result r = prelude[s->step](s);
        if (r == STEP_SENT) {
            update_poll(s);
            return;
        }
        if (r == STEP_BROKEN) {
            backend_broken(s, "write failed");
            return;
        }
    }
    forward(s);
}

/* What a prelude step's successful reply leaves on the backend connection,
 * one function per step (after its error was handled): 0, or -1 when the
 * session went to backend_broken(). */
static int gtid_applied(struct session *s)
{
    s->want_gtid[0] = '\0';
    if (s->resp.error || s->resp.captured_null || strcmp(s->resp.captured, "0") != 0) {
        /* This replica has not applied the session's write: run where the
         * write went. Counted as a fallback, never an error. */
        backend_detach(s, !s->resp.error);
        s->hostgroup = s->gtid_fallback_hg;
        acquire(s);
        return 1;
    }
    return 0;
}

static int option_set(struct session *s)
{
    s->be->multi_statements = s->multi_statements;
    return 0;
}

static int schema_set(struct session *s)
{
    snprintf(s->be->schema, sizeof(s->be->schema), "%s", s->schema);
    return 0;
}

static int vars_set(struct session *s)
{
    if (varset_copy(&s->be->vars, &s->vars) != 0) {
        backend_broken(s, "out of memory");
        return -1;
    }
    s->be->synced_serial = s->serial;
    s->be->synced_version = s->vars_version;
    return 0;
}

static int last_id_set(struct session *s)
{
    s->be->last_insert_id = s->last_insert_id;
    return 0;
}

/* The statement is prepared on this connection: cache it (bstmt.c). */
static int reprepared(struct session *s)
{
    if (bstmt_keep(s) == 0)
        return 0;
    backend_broken(s, "out of memory");
    return -1;
}

static int (*const step_took[BS_FORWARD])(struct session *s) = {
    [BS_GTID_WAIT] = gtid_applied, [BS_SET_OPTION] = option_set, [BS_INIT_DB] = schema_set,
    [BS_SET_VARS] = vars_set,      [BS_LAST_ID] = last_id_set,   [BS_REPREPARE] = reprepared,
};

static void on_step_reply(struct session *s)
{
    if (s->step == BS_FORWARD) {
        forward_done(s);
        return;
    }
    if (s->resp.error && s->step != BS_GTID_WAIT)
        return step_error(s);
    if (step_took[s->step](s) != 0)
        return;
    s->step++;
    run_step(s);
}

/* Attaches conn to the session and starts the steps. */
static void attach(struct session *s, struct pool_conn *conn)
{
    s->conn = conn;
    s->be = pool_conn_userdata(conn);
    if (!s->be) {
        s->be = backend_new();
        if (!s->be) {
            pool_release(conn, false);
            s->conn = NULL;
            session_send_error(s, 1, 1105, "HY000", "Out of memory");
            session_command_done(s);
            return;
        }
        pool_conn_set_userdata(conn, s->be);
    }
    if (!s->schema[0] && s->be->schema[0]) {
        /* MySQL has no way to leave a schema: a session without one must
         * not inherit another session's default database. */
        pool_release(conn, false);
        s->conn = NULL;
        s->be = NULL;
        acquire(s);
        return;
    }
    pool_conn_watch(conn, UV_READABLE, on_backend_io, s);
    session_set_state(s, SS_BACKEND);
    s->step = BS_GTID_WAIT;
    run_step(s);
}

void backend_on_ready(void *arg, struct pool_conn *conn, int err, const char *errmsg)
{
    struct session *s = arg;
    s->waiter = NULL;
    uv_timer_stop(&s->timer);
    if (err < 0 && err != POOL_ESHUTDOWN && may_retry(s)) {
        /* Nothing was sent anywhere; the pool's round robin offers the
         * hostgroup's next server, so a dead one costs no client error
         * while the monitor has not shunned it yet. */
        s->retries++;
        slog_warn(s, "%s; trying hostgroup %d again (retry %d of %d)",
                  errmsg ? errmsg : pool_strerror(err), s->hostgroup, s->retries, s->max_retries);
        acquire(s);
        return;
    }
    if (err < 0) {
        char m[512];
        snprintf(m, sizeof(m), "Sluice: cannot reach hostgroup %d: %s", s->hostgroup,
                 errmsg ? errmsg : pool_strerror(err));
        slog_warn(s, "%s", m);
        session_set_state(s, SS_BACKEND);
        session_send_error(s, 1, 9001, "HY000", m);
        session_command_done(s);
        return;
    }
    attach(s, conn);
}

static void on_queue_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    if (s->state != SS_WAIT_BACKEND || !s->waiter)
        return;
    pool_cancel(s->worker->proxy->pool, s->waiter);
    s->waiter = NULL;
    char m[256];
    snprintf(m, sizeof(m), "Max connect timeout reached while reaching hostgroup %d after %llums",
             s->hostgroup, (unsigned long long)((clock_now_ns() - s->started_ns) / 1000000u));
    slog_warn(s, "%s", m);
    session_send_error(s, 1, 9001, "HY000", m);
    session_command_done(s);
}

static void begin_routed(struct session *s);

/* A rule's delay is over: the statement goes on as if just routed. */
static void on_delay_done(uv_timer_t *t)
{
    struct session *s = t->data;
    if (s->state != SS_WAIT_BACKEND || s->waiter)
        return;
    s->delay_ms = 0;
    begin_routed(s);
}

void backend_begin(struct session *s)
{
    s->retries = 0;
    /* Stale from the previous command until start_resp(): a failure before
     * forwarding must not look like a half-sent response. */
    s->resp.sent_any = false;
    s->max_retries = s->cfg->query_retries_on_failure;
    s->timeout_ms = s->delay_ms = s->cache_ttl = 0;
    if (s->cmd == CODEC_COM_QUERY) {
        if (!route_query(s))
            return;
    } else if (s->cmd == CODEC_COM_STMT_PREPARE || s->cur_stmt) {
        if (!stmt_route(s))
            return;
    } else {
        s->hostgroup = s->user->default_hostgroup;
        s->stmt_flags = 0;
    }
    if (s->delay_ms > 0) {
        /* Throttling, as ProxySQL's delay: the session waits on its
         * timer (SS_WAIT_BACKEND without a pool waiter); the loop and
         * the other sessions do not. */
        session_set_state(s, SS_WAIT_BACKEND);
        uv_timer_start(&s->timer, on_delay_done, (uint64_t)s->delay_ms, 0);
        return;
    }
    begin_routed(s);
}

static void begin_routed(struct session *s)
{
    if (s->conn && pool_conn_hostgroup(s->conn) != s->hostgroup) {
        if (s->pin || s->in_txn)
            s->hostgroup = pool_conn_hostgroup(s->conn); /* never leave a transaction */
        else
            backend_detach(s, true); /* only kept for SHOW WARNINGS and such */
    }
    if (s->conn) {
        session_set_state(s, SS_BACKEND);
        s->step = BS_GTID_WAIT;
        run_step(s);
        return;
    }
    acquire(s);
}

static void acquire(struct session *s)
{
    struct pool_conn *conn = NULL;
    struct pool_waiter *waiter = NULL;
    int rc = pool_acquire(s->worker->proxy->pool, s->worker->index, s->hostgroup, s->username,
                          s->user->password, (s->caps & CLIENT_FOUND_ROWS_F) != 0,
                          s->user->max_backend_connections, backend_on_ready, s, &conn, &waiter);
    if (rc == 0) {
        attach(s, conn);
        return;
    }
    if (rc == POOL_PENDING) {
        session_set_state(s, SS_WAIT_BACKEND);
        s->waiter = waiter;
        int timeout = s->cfg->connect_timeout_server_max_ms > 0
                          ? s->cfg->connect_timeout_server_max_ms
                          : 10000;
        uv_timer_start(&s->timer, on_queue_timeout, (uint64_t)timeout, 0);
        return;
    }
    char m[200];
    if (rc == POOL_EOVERLOAD) {
        /* Fail fast: the queue is already long or slow; waiting would only
         * make the client time out later and the backlog longer. */
        snprintf(m, sizeof(m),
                 "Sluice: hostgroup %d is overloaded (too many requests queued or queue wait too "
                 "long); refused without waiting",
                 s->hostgroup);
        session_send_error(s, 1, 9002, "HY000", m);
    } else {
        snprintf(m, sizeof(m), "Sluice: hostgroup %d has no usable server", s->hostgroup);
        session_send_error(s, 1, 9001, "HY000", m);
    }
    session_command_done(s);
}
