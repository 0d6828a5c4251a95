/*
 * Client sessions: the frontend half of the proxy.
 *
 * States (enum sess_state):
 *
 *   accept -> SS_HANDSHAKE --(native token ok)-----------------> SS_IDLE
 *                 \--(other plugin)--> SS_AUTH_SWITCH --(ok)--> SS_IDLE
 *   SS_IDLE --command needing a server--> backend_begin()
 *        (SS_WAIT_BACKEND while queued, SS_BACKEND while it runs)
 *        --response complete--> session_command_done() --> SS_IDLE
 *   any --client gone / fatal error--> SS_CLOSING --close callbacks--> freed
 *
 * The client's bytes accumulate in `in`; a command is handled once its whole
 * message (all packets of a 16 MiB+ message) is there. Replies are built in
 * `out` and written through the session's transport (struct session_io:
 * TCP in session_tcp.c), at once where the peer takes them, else in the
 * background; while a write is in flight nothing else is appended, so a
 * slow client slows its own backend reads (back-pressure) and nothing else.
 * Input is bounded as it arrives: a message's announced size is checked
 * against the bound of the state (16 KiB before login,
 * mysql-max_allowed_packet after), and a busy session reads at most
 * INPUT_BACKLOG_MAX ahead before it stops reading its client.
 *
 * Commands that need no server (PING, QUIT, SET_OPTION, STMT_CLOSE,
 * RESET_CONNECTION, CHANGE_USER) are answered here; the rest go through
 * backend.c.
 */
#include "common/common.h"
#include "proxy/proxy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* What we offer clients. No SSL and no compression: the relay is plain.
 * CLIENT_LONG_PASSWORD (bit 0) set tells MariaDB clients we are not a
 * MariaDB server with extended capabilities. Backends always use classic
 * EOF framing; clients that ask for CLIENT_DEPRECATE_EOF get it translated
 * (backend.c). SESSION_TRACK is not offered. */
#define SERVER_CAPS                                                                                \
    (CLIENT_LONG_PASSWORD_F | CLIENT_FOUND_ROWS_F | CLIENT_LONG_FLAG_F |                           \
     CLIENT_CONNECT_WITH_DB_F | CLIENT_NO_SCHEMA_F | CLIENT_LOCAL_FILES_F |                        \
     CLIENT_IGNORE_SPACE_F | CLIENT_PROTOCOL_41_F | CLIENT_INTERACTIVE_F |                         \
     CLIENT_IGNORE_SIGPIPE_F | CLIENT_TRANSACTIONS_F | CLIENT_SECURE_CONNECTION_F |                \
     CLIENT_MULTI_STATEMENTS_F | CLIENT_MULTI_RESULTS_F | CLIENT_PS_MULTI_RESULTS_F |              \
     CLIENT_PLUGIN_AUTH_F | CLIENT_CONNECT_ATTRS_F | CLIENT_PLUGIN_AUTH_LENENC_F |                 \
     CLIENT_CAN_HANDLE_EXPIRED_F | CLIENT_DEPRECATE_EOF_F)

/* Before login a client sends one handshake response (or auth switch
 * token): a few hundred bytes, a few KiB with connection attributes. */
#define PREAUTH_MAX_MESSAGE 16384u
/* What a busy session (a command running, a reply being written) reads
 * ahead of its next command before it stops reading its client. */
#define INPUT_BACKLOG_MAX 65536u
/* Bytes queued for a slow backend (LOAD DATA LOCAL's file, pipelined
 * COM_STMT_SEND_LONG_DATA, which has no reply to wait for) before the
 * session stops taking more from its client. */
#define BACKEND_QUEUE_MAX (1024u * 1024)

/* Keeps proxy.buffer_bytes up to date with what the session's buffers hold
 * (their capacity: what malloc gave them). */
static void account_buffers(struct session *s)
{
    uint64_t now = s->state == SS_CLOSING ? 0 : (uint64_t)s->in.cap + s->out.cap;
    if (now == s->buffer_bytes)
        return;
    __atomic_add_fetch(&s->worker->proxy->buffer_bytes, now - s->buffer_bytes, __ATOMIC_RELAXED);
    s->buffer_bytes = now;
}

/* ------------------------------------------------------------ lifecycle */

/* The one place a session changes state. */
void session_set_state(struct session *s, enum sess_state st)
{
    s->state = st;
}

/* A statement being prepared when the session closed is not in the
 * session's list yet (backend.c adds it when the server answers). */
void session_stmt_free(struct cstmt *st)
{
    if (st->counted_in)
        stats_stmt_unref(st->counted_in, st->hash, false);
    free(st->sql);
    free(st->param_types);
    codec_buf_free(&st->prep_resp);
    free(st);
}

static void free_orphan_stmt(struct session *s)
{
    struct cstmt *st = s->cur_stmt;
    if (!st)
        return;
    for (struct cstmt *l = s->stmts; l; l = l->next)
        if (l == st)
            return;
    session_stmt_free(st);
    s->cur_stmt = NULL;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct session *s = h->data;
    if (--s->pending_closes > 0)
        return;
    struct worker *w = s->worker;
    if (s->prev)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    w->n_sessions--;
    stats_count(&w->counters->clients_connected, (uint64_t)-1);
    account_buffers(s); /* SS_CLOSING: back to 0 */
    pinstats_forget(s);
    if (s->unauth_counted)
        limits_unauth_leave(w->proxy);
    if (s->admitted)
        limits_client_leave(w->proxy);
    limits_user_leave(w->proxy, s->uslot);
    free_orphan_stmt(s);
    for (struct cstmt *st = s->stmts, *next; st; st = next) {
        next = st->next;
        session_stmt_free(st);
    }
    stmt_map_free(&s->stmt_ids);
    codec_buf_free(&s->in);
    codec_buf_free(&s->out);
    codec_buf_free(&s->meta);
    codec_buf_free(&s->rewrite);
    codec_buf_free(&s->qc_buf);
    varset_free(&s->vars);
    if (s->cfg)
        admin_config_unref(s->cfg);
    free(s);
    if (w->draining && w->n_sessions == 0)
        uv_async_send(&w->wake);
}

void session_close(struct session *s)
{
    if (s->state == SS_CLOSING)
        return;
    kill_reg_leave(s); /* KILL of this id now answers 1094, as for a thread gone */
    if (s->waiter) {
        pool_cancel(s->worker->proxy->pool, s->waiter);
        s->waiter = NULL;
    }
    if (s->conn)
        backend_detach(s, s->state != SS_BACKEND && s->pin == 0);
    session_set_state(s, SS_CLOSING);
    s->pending_closes = 2;
    s->io->close(s); /* session_io_closed() when done */
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}

void session_io_closed(struct session *s)
{
    on_handle_closed((uv_handle_t *)&s->timer);
}

void session_kill(struct session *s, uint16_t code, const char *sqlstate, const char *msg)
{
    bool running = s->state == SS_BACKEND;
    if (s->conn)
        backend_detach(s, false);
    if (!running || s->writing || s->close_after_write) {
        /* Nobody waits for a reply, or one is being written and cannot be
         * appended to: the closed connection is the message. */
        session_close(s);
        return;
    }
    /* Mid-result the client has part of a response; the error ends it. */
    session_send_error(s, s->resp.sent_any ? 0 : session_reply_seq(s), code, sqlstate, msg);
    s->close_after_write = true;
    session_set_state(s, SS_IDLE); /* nothing of the command is left to run */
    session_flush(s);
}

/* Called when the worker drains for shutdown: idle sessions go now, busy ones
 * when their statement ends. */
void session_drain(struct session *s)
{
    if (s->state == SS_IDLE || s->state == SS_HANDSHAKE || s->state == SS_AUTH_SWITCH)
        session_close(s);
}

/* -------------------------------------------------------------- writing */

void session_write_done(struct session *s, int status)
{
    s->writing = false;
    codec_buf_reset(&s->out);
    if (s->state == SS_CLOSING)
        return;
    if (status < 0) {
        session_close(s);
        return;
    }
    if (s->close_after_write) {
        session_close(s);
        return;
    }
    session_update_reading(s);
    if (s->state == SS_BACKEND)
        backend_resume(s);
    else
        session_process_input(s);
}

void session_flush(struct session *s)
{
    if (s->writing || s->state == SS_CLOSING)
        return;
    account_buffers(s);
    if (s->out.len == 0) {
        if (s->close_after_write)
            session_close(s);
        return;
    }
    int n = s->io->try_write(s, s->out.data, s->out.len);
    if (n == (int)s->out.len) {
        codec_buf_reset(&s->out);
        if (s->close_after_write)
            session_close(s);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        session_close(s);
        return;
    }
    if (n < 0)
        n = 0;
    s->writing = true;
    if (s->io->write(s, s->out.data + n, s->out.len - (size_t)n) != 0) {
        s->writing = false;
        session_close(s);
        return;
    }
    session_update_reading(s);
}

void session_send_error(struct session *s, uint8_t seq, uint16_t code, const char *sqlstate,
                        const char *msg)
{
    if (codec_write_err(&s->out, seq, code, sqlstate, msg) != 0)
        s->close_after_write = true;
}

static void send_ok(struct session *s, uint8_t seq)
{
    uint16_t status = (s->in_txn ? SERVER_STATUS_IN_TRANS_F : 0) | SERVER_STATUS_AUTOCOMMIT_F;
    const char *ac = varset_get(&s->vars, "autocommit");
    if (ac && strcmp(ac, "OFF") == 0)
        status &= (uint16_t)~SERVER_STATUS_AUTOCOMMIT_F;
    if (codec_write_ok(&s->out, seq, 0, 0, status, 0, NULL) != 0)
        s->close_after_write = true;
}

/* ------------------------------------------------------------ handshake */

static void fill_scramble(uint8_t scramble[20])
{
    if (getrandom(scramble, 20, 0) != 20) {
        for (int i = 0; i < 20; i++)
            scramble[i] = (uint8_t)rand();
    }
    /* Printable ASCII without NUL or '$', as servers send. */
    for (int i = 0; i < 20; i++)
        scramble[i] = (uint8_t)(33 + scramble[i] % 94);
}

int session_input_space(struct session *s, uint8_t **base, size_t *len)
{
    size_t want = 16384;
    if (s->in.len >= 4) {
        /* A large packet is on its way: make room for all of it at once. */
        struct codec_header hdr;
        if (codec_header_parse(s->in.data, s->in.len, &hdr) == 0 && hdr.len + 4u > s->in.len &&
            hdr.len + 4u - s->in.len > want)
            want = hdr.len + 4u - s->in.len;
    }
    if (want > 4u * 1024 * 1024)
        want = 4u * 1024 * 1024;
    if (s->cmd_len || s->writing || s->auth_held)
        want = 16384; /* read-ahead of a busy session: INPUT_BACKLOG_MAX */
    if (codec_buf_reserve(&s->in, want) != 0)
        return PROXY_ENOMEM;
    *base = s->in.data + s->in.len;
    *len = s->in.cap - s->in.len;
    return 0;
}

static void on_handshake_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    if (s->state == SS_HANDSHAKE || s->state == SS_AUTH_SWITCH) {
        slog_info(s, "no login within mysql-connect_timeout_client (%d ms)",
                  s->cfg->connect_timeout_client_ms);
        session_close(s);
    }
}

/* Refuses the new session with 1040 (as MariaDB: the error replaces the
 * greeting), saying why in the log. */
static bool refuse(struct session *s, const char *why, long limit)
{
    slog_info(s, "too many connections (%s %ld)", why, limit);
    session_send_error(s, 0, 1040, "08004", "Too many connections");
    s->close_after_write = true;
    session_flush(s);
    return false;
}

/* Counts the session against mysql-max_connections, the sessions still
 * logging in and the memory budget of session buffers, or refuses it. */
static bool admit(struct session *s)
{
    struct proxy *p = s->worker->proxy;
    const struct admin_config *cfg = s->cfg;
    if (!limits_client_admit(p, cfg->max_client_connections))
        return refuse(s, "mysql-max_connections", cfg->max_client_connections);
    s->admitted = true;
    int unauth_max = cfg->max_unauth_connections < cfg->max_client_connections
                         ? cfg->max_unauth_connections
                         : cfg->max_client_connections;
    if (!limits_unauth_admit(p, unauth_max))
        return refuse(s, "mysql-max_unauthenticated_connections", unauth_max);
    s->unauth_counted = true;
    uint64_t budget = limits_buffer_budget(cfg);
    uint64_t used = __atomic_load_n(&p->buffer_bytes, __ATOMIC_RELAXED);
    if (used >= budget)
        return refuse(s, "mysql-session_buffers_MB, bytes", (long)(budget));
    return true;
}

struct session *session_new(struct worker *w, const struct session_io *io)
{
    struct session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->worker = w;
    s->io = io;
    s->id = __atomic_add_fetch(&w->proxy->next_conn_id, 1, __ATOMIC_RELAXED);
    s->serial = __atomic_add_fetch(&w->proxy->next_serial, 1, __ATOMIC_RELAXED);
    codec_buf_init(&s->in);
    codec_buf_init(&s->out);
    codec_buf_init(&s->meta);
    codec_buf_init(&s->rewrite);
    codec_buf_init(&s->qc_buf);
    varset_init(&s->vars);
    s->next_stmt_id = 1;
    s->pin_acct.mux_slot = -1;
    snprintf(s->peer, sizeof(s->peer), "?");
    uv_timer_init(&w->loop, &s->timer);
    s->timer.data = s;
    s->next = w->sessions;
    if (w->sessions)
        w->sessions->prev = s;
    w->sessions = s;
    w->n_sessions++;
    stats_count(&w->counters->clients_connected, 1);
    return s;
}

void session_start(struct session *s)
{
    struct worker *w = s->worker;
    stats_count(&w->counters->clients_accepted, 1);
    s->cfg = admin_config_ref(w->cfg);
    if (!admit(s))
        return;
    fill_scramble(s->scramble);
    session_set_state(s, SS_HANDSHAKE);
    uint8_t charset = (uint8_t)(s->cfg->default_charset ? s->cfg->default_charset : 45);
    if (codec_write_handshake(&s->out, s->id, s->cfg->server_version, s->scramble, SERVER_CAPS,
                              charset, SERVER_STATUS_AUTOCOMMIT_F, "mysql_native_password") != 0) {
        session_close(s);
        return;
    }
    uv_timer_start(&s->timer, on_handshake_timeout, (uint64_t)s->cfg->connect_timeout_client_ms, 0);
    session_update_reading(s);
    session_flush(s);
}

static void deny(struct session *s, uint8_t seq, const char *user, size_t user_len,
                 bool used_password)
{
    char msg[400];
    char host[64];
    snprintf(host, sizeof(host), "%s", s->peer);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    snprintf(msg, sizeof(msg), "Access denied for user '%.*s'@'%s' (using password: %s)",
             (int)(user_len > 100 ? 100 : user_len), user, host, used_password ? "YES" : "NO");
    slog_info(s, "access denied for user '%.*s'", (int)(user_len > 100 ? 100 : user_len), user);
    session_send_error(s, seq, 1045, "28000", msg);
    s->close_after_write = true;
    stats_count(&s->worker->counters->auth_failures, 1);
    limits_login_failed(s->worker->proxy, s->peer_ip);
}

/* A collation id whose character set MariaDB refuses for a client (ucs2,
 * utf16, utf32: the parser reads one byte per ASCII character) gets its
 * error, and the session ends, as on a direct connection. */
static bool charset_refused(struct session *s, unsigned id, uint8_t seq)
{
    const struct collation *c = collation_by_id(id);
    if (!c || collation_client_ok(c))
        return false;
    char msg[128];
    snprintf(msg, sizeof(msg), "Variable 'character_set_client' can't be set to the value of '%s'",
             c->charset);
    session_send_error(s, seq, 1231, "42000", msg);
    s->close_after_write = true;
    return true;
}

/* Resets everything a session carries to what a fresh login has. */
static void reset_session_state(struct session *s)
{
    varset_free(&s->vars);
    if (varset_set_charset(&s->vars, s->charset) != 0)
        s->close_after_write = true;
    s->vars_version++;
    s->multi_statements = (s->caps & CLIENT_MULTI_STATEMENTS_F) != 0;
    s->pin = 0;
    s->keep_next = 0;
    s->in_txn = false;
    s->last_insert_id = 0;
    for (struct cstmt *st = s->stmts, *next; st; st = next) {
        next = st->next;
        session_stmt_free(st);
    }
    s->stmts = NULL;
    s->n_stmts = 0;
    stmt_map_free(&s->stmt_ids);
}

static void login_ok(struct session *s, uint8_t seq, const struct admin_user *u, const char *db,
                     size_t db_len)
{
    if (s->unauth_counted) {
        limits_unauth_leave(s->worker->proxy);
        s->unauth_counted = false;
    }
    limits_login_succeeded(s->worker->proxy, s->peer_ip);
    s->user = u;
    snprintf(s->username, sizeof(s->username), "%s", u->username);
    if (db && db_len)
        snprintf(s->handshake_db, sizeof(s->handshake_db), "%.*s", (int)db_len, db);
    else
        snprintf(s->handshake_db, sizeof(s->handshake_db), "%s", u->default_schema);
    snprintf(s->schema, sizeof(s->schema), "%s", s->handshake_db);
    reset_session_state(s);
    s->hostgroup = u->default_hostgroup;
    session_set_state(s, SS_IDLE);
    s->idle_since_ns = clock_now_ns();
    pinstats_account(s);
    uv_timer_stop(&s->timer);
    kill_reg_enter(s);
    send_ok(s, seq);
    slog_debug(s, "user '%s' logged in", s->username);
}

/* Counts the session against u's max_connections (moving it from the user
 * it had, after COM_CHANGE_USER). When u is full the client gets 1226, as
 * from MariaDB's max_user_connections, and the session closes. */
static bool admit_user(struct session *s, const struct admin_user *u, uint8_t seq)
{
    struct proxy *p = s->worker->proxy;
    if (s->uslot && strcmp(s->username, u->username) == 0)
        return true;
    struct user_slot *slot;
    int rc = limits_user_admit(p, u->username, u->max_connections, &slot);
    if (rc == 0) {
        limits_user_leave(p, s->uslot);
        s->uslot = slot;
        return true;
    }
    if (rc > 0) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "User '%s' has exceeded the 'max_user_connections' resource (current value: %d)",
                 u->username, u->max_connections);
        slog_info(s, "user '%s' at max_connections %d", u->username, u->max_connections);
        session_send_error(s, seq, 1226, "42000", msg);
    } else {
        session_send_error(s, seq, 1041, "HY000", "Out of memory");
    }
    s->close_after_write = true;
    return false;
}

/* The account in the newest runtime snapshot, which the session adopts: a
 * user deleted or deactivated there cannot log in again on an old
 * connection (COM_CHANGE_USER) with old credentials. */
static const struct admin_user *find_user(struct session *s, const uint8_t *name, size_t len)
{
    struct admin_config *cfg = s->worker->cfg;
    if (s->cfg != cfg) {
        admin_config_ref(cfg);
        admin_config_unref(s->cfg);
        s->cfg = cfg;
        s->user = NULL; /* it pointed into the old snapshot */
    }
    const struct admin_user *u = admin_config_user(cfg, (const char *)name, len);
    if (!u || !u->active || !u->frontend)
        return NULL;
    return u;
}

static void handle_handshake_response(struct session *s, const uint8_t *payload, size_t len,
                                      uint8_t seq)
{
    struct codec_handshake_response hr;
    if (codec_handshake_response_parse(payload, len, &hr) != 0 || !hr.user) {
        session_send_error(s, (uint8_t)(seq + 1), 1043, "08S01", "Bad handshake");
        s->close_after_write = true;
        return;
    }
    s->caps = hr.caps & SERVER_CAPS;
    if (charset_refused(s, hr.charset, (uint8_t)(seq + 1)))
        return;
    s->charset = hr.charset;
    snprintf(s->username, sizeof(s->username), "%.*s",
             (int)(hr.user_len < sizeof(s->username) ? hr.user_len : sizeof(s->username) - 1),
             (const char *)hr.user);
    if (hr.db && hr.db_len)
        snprintf(s->handshake_db, sizeof(s->handshake_db), "%.*s",
                 (int)(hr.db_len < 192 ? hr.db_len : 192), (const char *)hr.db);
    const struct admin_user *u = find_user(s, hr.user, hr.user_len);
    bool native =
        !hr.plugin || (hr.plugin_len == 21 && memcmp(hr.plugin, "mysql_native_password", 21) == 0);
    if (!native && (s->caps & CLIENT_PLUGIN_AUTH_F)) {
        /* e.g. caching_sha2_password from MySQL 8 clients: ask for native.
         * Unknown users get the same switch, so that the answer does not
         * tell which accounts exist. */
        session_set_state(s, SS_AUTH_SWITCH);
        if (codec_write_auth_switch(&s->out, (uint8_t)(seq + 1), "mysql_native_password",
                                    s->scramble) != 0)
            s->close_after_write = true;
        return;
    }
    if (!u || !native ||
        !codec_native_verify(u->native_hash, u->has_password, s->scramble, hr.auth, hr.auth_len)) {
        deny(s, (uint8_t)(seq + 1), (const char *)hr.user, hr.user_len, hr.auth_len > 0);
        return;
    }
    if (admit_user(s, u, (uint8_t)(seq + 1)))
        login_ok(s, (uint8_t)(seq + 1), u, (const char *)hr.db, hr.db_len);
}

static void handle_auth_switch_response(struct session *s, const uint8_t *payload, size_t len,
                                        uint8_t seq)
{
    const struct admin_user *u = find_user(s, (const uint8_t *)s->username, strlen(s->username));
    if (!u || !codec_native_verify(u->native_hash, u->has_password, s->scramble, payload, len)) {
        deny(s, (uint8_t)(seq + 1), s->username, strlen(s->username), len > 0);
        return;
    }
    if (admit_user(s, u, (uint8_t)(seq + 1)))
        login_ok(s, (uint8_t)(seq + 1), u, s->handshake_db, strlen(s->handshake_db));
}

/* ------------------------------------------------------------- commands */

static void change_user(struct session *s, const uint8_t *payload, size_t len)
{
    struct codec_change_user cu;
    if (codec_change_user_parse(payload + 1, len - 1, s->caps, &cu) != 0) {
        session_send_error(s, 1, 1047, "08S01", "Malformed COM_CHANGE_USER");
        s->close_after_write = true;
        return;
    }
    /* Whatever happens next, the old session's server state must not leak. */
    if (s->conn)
        backend_detach(s, s->pin == 0 && !s->in_txn);
    bool native =
        !cu.plugin || (cu.plugin_len == 21 && memcmp(cu.plugin, "mysql_native_password", 21) == 0);
    const struct admin_user *u = find_user(s, cu.user, cu.user_len);
    if (!u || !native ||
        !codec_native_verify(u->native_hash, u->has_password, s->scramble, cu.auth, cu.auth_len)) {
        deny(s, 1, (const char *)cu.user, cu.user_len, cu.auth_len > 0);
        return;
    }
    if (!admit_user(s, u, 1) || charset_refused(s, cu.charset, 1))
        return;
    if (cu.charset)
        s->charset = cu.charset;
    s->handshake_db[0] = '\0';
    login_ok(s, 1, u, (const char *)cu.db, cu.db_len);
}

static void reset_connection(struct session *s)
{
    if (s->conn)
        backend_detach(s, s->pin == 0 && !s->in_txn);
    reset_session_state(s);
    send_ok(s, 1);
}

int session_stmt_add(struct session *s, struct cstmt *st)
{
    int rc = stmt_map_put(&s->stmt_ids, st);
    if (rc != 0)
        return rc;
    st->next = s->stmts;
    s->stmts = st;
    s->n_stmts++;
    return 0;
}

static struct cstmt *find_stmt(struct session *s, uint32_t id)
{
    return stmt_map_get(&s->stmt_ids, id);
}

static void stmt_close(struct session *s, const uint8_t *payload, size_t len)
{
    if (len < 5)
        return;
    struct cstmt *st = find_stmt(s, codec_u32(payload + 1));
    if (!st)
        return;
    stmt_map_del(&s->stmt_ids, st->id);
    struct cstmt **link = &s->stmts;
    while (*link != st)
        link = &(*link)->next;
    *link = st->next;
    s->n_stmts--;
    if (s->cur_stmt == st)
        s->cur_stmt = NULL;
    session_stmt_free(st);
    /* No reply: COM_STMT_CLOSE has none. The backend keeps its statement
     * in its LRU cache for the next session that prepares the same text. */
    if ((s->pin & PIN_CURSOR) || (s->pin & PIN_LONG_DATA)) {
        s->pin &= ~(PIN_CURSOR | PIN_LONG_DATA);
        if (s->conn && s->pin == 0 && !s->in_txn && s->keep_next == 0)
            backend_detach(s, true);
    }
}

/* A new runtime configuration was published: take it between statements.
 * The account must still exist there; if it was removed, the session keeps
 * the snapshot it logged in with (as ProxySQL keeps existing sessions). */
static void switch_config(struct session *s)
{
    struct admin_config *cfg = s->worker->cfg;
    const struct admin_user *u = admin_config_user(cfg, s->username, strlen(s->username));
    if (!u || !u->active || !u->frontend)
        return;
    admin_config_ref(cfg);
    admin_config_unref(s->cfg);
    s->cfg = cfg;
    s->user = u;
}

static void set_option(struct session *s, const uint8_t *payload, size_t plen)
{
    if (plen < 3 || codec_u16(payload + 1) > 1) {
        session_send_error(s, 1, 1047, "08S01", "Unknown COM_SET_OPTION value");
        return;
    }
    s->multi_statements = codec_u16(payload + 1) == 0;
    int rc = (s->caps & CLIENT_DEPRECATE_EOF_F)
                 ? codec_write_ok_eof(&s->out, 1, SERVER_STATUS_AUTOCOMMIT_F, 0)
                 : codec_write_eof(&s->out, 1, SERVER_STATUS_AUTOCOMMIT_F, 0);
    if (rc != 0)
        s->close_after_write = true;
}

/* A command on a prepared statement (execute, long data, reset, fetch):
 * true when it goes to a server, false when it was answered here. */
static bool stmt_command(struct session *s, const uint8_t *payload, size_t plen)
{
    if (plen < 5 || !(s->cur_stmt = find_stmt(s, codec_u32(payload + 1)))) {
        if (s->cmd == CODEC_COM_STMT_SEND_LONG_DATA)
            return false; /* no reply, as the server does */
        char m[128];
        snprintf(m, sizeof(m), "Unknown prepared statement handler (%u) given to %s",
                 plen >= 5 ? codec_u32(payload + 1) : 0, "mysqld_stmt_execute");
        session_send_error(s, 1, 1243, "HY000", m);
        return false;
    }
    if (s->cmd == CODEC_COM_STMT_RESET && !s->conn) {
        send_ok(s, 1); /* nothing on any server to reset */
        return false;
    }
    if (s->cmd == CODEC_COM_STMT_FETCH && !(s->pin & PIN_CURSOR)) {
        session_send_error(s, 1, 1421, "HY000", "The statement has no open cursor");
        return false;
    }
    return true;
}

/* As the server's max_prepared_stmt_count, per session here: one client
 * cannot fill the proxy with statements. False: refused with 1461. */
static bool stmt_room(struct session *s)
{
    if (s->n_stmts < (size_t)s->cfg->max_client_stmts)
        return true;
    char m[160];
    snprintf(m, sizeof(m),
             "Can't create more than max_prepared_stmt_count statements (current value: %d)",
             s->cfg->max_client_stmts);
    session_send_error(s, 1, 1461, "42000", m);
    return false;
}

/* Answers a command that needs no server; false when cmd needs one. */
static bool answer_locally(struct session *s, const uint8_t *payload, size_t plen)
{
    switch (s->cmd) {
    case CODEC_COM_PING:
        send_ok(s, 1);
        return true;
    case CODEC_COM_SET_OPTION:
        set_option(s, payload, plen);
        return true;
    case CODEC_COM_RESET_CONNECTION:
        reset_connection(s);
        return true;
    case CODEC_COM_CHANGE_USER:
        change_user(s, payload, plen);
        return true;
    case CODEC_COM_STMT_CLOSE:
        stmt_close(s, payload, plen);
        return true;
    case CODEC_COM_STMT_EXECUTE:
    case CODEC_COM_STMT_SEND_LONG_DATA:
    case CODEC_COM_STMT_RESET:
    case CODEC_COM_STMT_FETCH:
        return !stmt_command(s, payload, plen);
    case CODEC_COM_STMT_PREPARE:
        s->cur_stmt = NULL;
        return !stmt_room(s);
    case CODEC_COM_INIT_DB:
    case CODEC_COM_QUERY:
    case CODEC_COM_FIELD_LIST:
    case CODEC_COM_STATISTICS:
        s->cur_stmt = NULL;
        return false;
    default: {
        char m[96];
        snprintf(m, sizeof(m), "Unknown command %u", (unsigned)s->cmd);
        session_send_error(s, 1, 1047, "08S01", m);
        return true;
    }
    }
}

/* Dispatches one complete command message of cmd_len bytes at s->in. */
static void dispatch(struct session *s)
{
    struct codec_header hdr;
    (void)codec_header_parse(s->in.data, s->in.len, &hdr);
    const uint8_t *payload = s->in.data + 4;
    if (hdr.len == 0) {
        session_send_error(s, 1, 1047, "08S01", "Empty command packet");
        session_command_done(s);
        return;
    }
    s->cmd = payload[0];
    s->digest_hash = 0;
    stats_count(&s->worker->counters->commands[s->cmd < 32 ? s->cmd : 32], 1);
    s->started_ns = clock_now_ns();
    if (s->cfg != s->worker->cfg)
        switch_config(s);
    if (s->cmd == CODEC_COM_QUIT) {
        session_close(s);
        return;
    }
    if (answer_locally(s, payload, hdr.len))
        session_command_done(s);
    else
        backend_begin(s);
}

/* Consumes the command's bytes and goes back to waiting for the next one. */
void session_command_done(struct session *s)
{
    if (s->state == SS_CLOSING)
        return;
    pinstats_account(s); /* before the command's bytes go: its text names the pin */
    s->idle_since_ns = clock_now_ns();
    cmdstats_record(s, s->idle_since_ns); /* stats_mysql_commands_counters */
    if (s->cmd_len) {
        size_t rest = s->in.len - s->cmd_len;
        if (rest)
            memmove(s->in.data, s->in.data + s->cmd_len, rest);
        s->in.len = rest;
        s->cmd_len = 0;
    }
    /* Release large buffers a big statement left behind. */
    if (s->in.cap > 1024 * 1024 && s->in.len < 16384) {
        uint8_t *nb = realloc(s->in.data, 16384);
        if (nb) {
            s->in.data = nb;
            s->in.cap = 16384;
        }
    }
    account_buffers(s);
    session_set_state(s, SS_IDLE);
    session_flush(s);
    if (s->worker->draining && !s->conn) {
        s->close_after_write = true;
        session_flush(s);
        return;
    }
    if (!s->writing)
        session_process_input(s);
}

static bool logging_in(const struct session *s)
{
    return s->state == SS_HANDSHAKE || s->state == SS_AUTH_SWITCH;
}

/* Checks the size the next message announces, as its packets arrive: a
 * peer cannot make the proxy buffer more than the bound by sending headers
 * that promise more. Before login the connection just closes after an
 * error; after it the client gets 1153, as from the server, and the
 * session ends (the rest of the message is not read). */
static bool message_within_bound(struct session *s)
{
    uint64_t max = logging_in(s) ? PREAUTH_MAX_MESSAGE : (uint64_t)s->cfg->max_allowed_packet;
    uint8_t seq;
    if (codec_message_announced(s->in.data, s->in.len, &seq) <= max)
        return true;
    if (logging_in(s))
        slog_info(s, "login message over %u bytes; closing", PREAUTH_MAX_MESSAGE);
    session_send_error(s, (uint8_t)(seq + 1), 1153, "08S01",
                       "Got a packet bigger than 'max_allowed_packet' bytes");
    s->close_after_write = true;
    session_update_reading(s);
    session_flush(s);
    return false;
}

static void on_login_delay(uv_timer_t *t)
{
    struct session *s = t->data;
    s->auth_held = false;
    s->auth_delayed = true;
    uv_timer_start(&s->timer, on_handshake_timeout, (uint64_t)s->cfg->connect_timeout_client_ms, 0);
    session_process_input(s);
}

/* An address whose recent logins failed waits before its next answer, a
 * wait that doubles with each failure: a password spray slows to a crawl
 * while one typo costs a fraction of a second. Known and unknown users
 * wait alike. True when the login message is held back for now. */
static bool hold_login(struct session *s)
{
    if (s->auth_delayed)
        return false;
    uint32_t ms = limits_login_delay_ms(s->worker->proxy, s->peer_ip, s->cfg->auth_failure_delay_ms,
                                        s->cfg->auth_failure_delay_max_ms);
    s->auth_delayed = true;
    if (ms == 0)
        return false;
    s->auth_held = true;
    uv_timer_start(&s->timer, on_login_delay, ms, 0);
    return true;
}

static void handle_login_message(struct session *s)
{
    struct codec_header hdr;
    (void)codec_header_parse(s->in.data, s->in.len, &hdr);
    if (s->state == SS_HANDSHAKE)
        handle_handshake_response(s, s->in.data + 4, hdr.len, hdr.seq);
    else
        handle_auth_switch_response(s, s->in.data + 4, hdr.len, hdr.seq);
    if (s->state == SS_CLOSING)
        return;
    size_t rest = s->in.len - s->cmd_len;
    memmove(s->in.data, s->in.data + s->cmd_len, rest);
    s->in.len = rest;
    s->cmd_len = 0;
    session_flush(s);
}

void session_process_input(struct session *s)
{
    while (s->state == SS_IDLE || logging_in(s)) {
        if (s->writing || s->close_after_write || s->auth_held ||
            backend_queued(s) >= BACKEND_QUEUE_MAX)
            break;
        if (!message_within_bound(s))
            return;
        long span = codec_message_span(s->in.data, s->in.len, NULL);
        if (span < 0)
            break;
        s->cmd_len = (size_t)span;
        if (s->state == SS_IDLE) {
            dispatch(s);
            continue;
        }
        if (hold_login(s))
            break;
        handle_login_message(s);
        if (s->state == SS_CLOSING)
            return;
    }
    session_update_reading(s);
}

/* Whether the session should take more bytes from its client now. */
static bool wants_input(const struct session *s)
{
    if (s->close_after_write)
        return false;
    if (s->state == SS_BACKEND && s->resp.st == RS_INFILE)
        return backend_queued(s) < BACKEND_QUEUE_MAX;
    bool busy =
        s->cmd_len > 0 || s->writing || s->auth_held || backend_queued(s) >= BACKEND_QUEUE_MAX;
    return !busy || s->in.len - s->cmd_len < INPUT_BACKLOG_MAX;
}

void session_update_reading(struct session *s)
{
    if (s->state == SS_CLOSING)
        return;
    bool want = wants_input(s);
    if (want == s->reading)
        return;
    s->reading = want;
    if (s->io->read(s, want) != 0) {
        s->reading = false;
        session_close(s);
    }
}

void session_input(struct session *s, ssize_t nread)
{
    if (nread < 0) {
        session_close(s);
        return;
    }
    if (nread == 0)
        return;
    s->in.len += (size_t)nread;
    account_buffers(s);
    if (s->state == SS_BACKEND && s->resp.st == RS_INFILE) {
        backend_forward_infile(s);
        session_update_reading(s);
        return;
    }
    session_process_input(s);
}
