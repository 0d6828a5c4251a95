/*
 * The admin interface's MySQL-protocol listener (admin-mysql_ifaces).
 *
 * It runs on the main thread's loop, the only thread that touches the
 * SQLite store: each admin session authenticates against
 * admin-admin_credentials ("user:password", several separated by ';'), then
 * every COM_QUERY goes to admin_execute() and its result is encoded here as
 * a MySQL result set, OK or ERR packet. A statement that publishes a new
 * runtime (LOAD ... TO RUNTIME) hands the snapshot to proxy_publish().
 *
 * States of an admin session: HANDSHAKE (greeting sent) -> READY (commands)
 * -> CLOSING. Statements run synchronously: admin traffic is rare and the
 * store is local, so there is nothing to overlap.
 *
 * Application users cannot log in here, and weak credentials (admin:admin or
 * an empty password, see admin_credential_weak) are accepted only from a
 * loopback client; others get the usual 1045. Sluice does not start with
 * weak credentials configured and the interface on another address
 * (admin_check_exposure).
 */
#include "common/common.h"
#include "ops/ops_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define ADMIN_CAPS                                                                                 \
    (CLIENT_LONG_PASSWORD_F | CLIENT_LONG_FLAG_F | CLIENT_CONNECT_WITH_DB_F |                      \
     CLIENT_PROTOCOL_41_F | CLIENT_INTERACTIVE_F | CLIENT_TRANSACTIONS_F |                         \
     CLIENT_SECURE_CONNECTION_F | CLIENT_MULTI_STATEMENTS_F | CLIENT_MULTI_RESULTS_F |             \
     CLIENT_PLUGIN_AUTH_F | CLIENT_PLUGIN_AUTH_LENENC_F | CLIENT_CONNECT_ATTRS_F)

#define ADMIN_MAX_MESSAGE (16u * 1024 * 1024)
/* Before login, as on the client port: a handshake response is small. */
#define ADMIN_PREAUTH_MAX_MESSAGE 16384u
/* Admin sessions open at once: operators and their tools need a handful;
 * more is someone knocking on the port. */
#define ADMIN_MAX_SESSIONS 64
/* Input held at once: one whole message (a larger one is refused from its
 * header) and a read's worth after it. */
#define ADMIN_READ_MAX (ADMIN_MAX_MESSAGE + 65536u)

enum admin_sess_state {
    AS_HANDSHAKE, /* greeting sent, waiting for the handshake response */
    AS_SWITCH,    /* auth switch sent, waiting for the token */
    AS_READY,     /* logged in */
    AS_CLOSING,   /* handle closing */
};

struct ops_admin {
    struct net_listener lst; /* the port and its sessions (their net_conn) */
    struct admin_store *store;
    struct proxy *proxy;
    struct admin_config *cfg; /* credentials and version (ref) */
    /* The session whose BEGIN is open on the store's one SQLite connection:
     * others wait their turn (error 1205) rather than run inside it, and
     * its transaction is rolled back if it disconnects. */
    struct admin_sess *txn_owner;
    uint32_t next_id;
};

struct admin_sess {
    struct ops_admin *l;
    struct net_conn net; /* socket, input, login timer (mysql-connect_timeout_client) */
    enum admin_sess_state state;
    uint32_t id;
    uint32_t caps;
    uint8_t scramble[20];
    char user[128];
    bool loopback;
    struct codec_buf out;
    bool close_after_write;
    /* A statement that reads stats_mysql_processlist waits, unread, for
     * the workers' rows (stats_plist_ask) and then runs with plist_fresh. */
    struct stats_plist_wait plist_wait;
    bool plist_waiting, plist_asking, plist_fresh;
    /* The last statement's warnings, for SHOW WARNINGS (owned). */
    struct admin_warning *warnings;
    size_t n_warnings;
};

static void listener_closed(struct net_listener *lst)
{
    struct ops_admin *l = lst->data;
    admin_config_unref(l->cfg);
    free(l);
}

static void sess_closed(struct net_conn *c)
{
    struct admin_sess *a = c->data;
    codec_buf_free(&a->out);
    free(a->warnings);
    free(a);
}

static void sess_close(struct admin_sess *a)
{
    if (a->state == AS_CLOSING)
        return;
    a->state = AS_CLOSING;
    if (a->l->proxy)
        stats_plist_cancel(proxy_stats(a->l->proxy), &a->plist_wait);
    if (a->l->txn_owner == a) {
        struct admin_result res;
        memset(&res, 0, sizeof(res));
        admin_execute(a->l->store, a->l->cfg, "ROLLBACK", 8, &res);
        admin_result_free(&res);
        a->l->txn_owner = NULL;
        log_warn("admin: user '%s' disconnected inside a transaction: rolled back", a->user);
    }
    net_conn_close(&a->net);
}

static void process(struct admin_sess *a);

/* While a reply is written nothing is read: what the client sends meanwhile
 * waits in the socket, not in memory. */
static void on_written(struct net_conn *c, int status)
{
    struct admin_sess *a = c->data;
    codec_buf_reset(&a->out);
    if (a->state == AS_CLOSING)
        return;
    if (status < 0 || a->close_after_write || net_conn_read_start(&a->net, ADMIN_READ_MAX) != 0) {
        sess_close(a);
        return;
    }
    process(a);
}

static void flush(struct admin_sess *a)
{
    if (a->net.writing || a->state == AS_CLOSING)
        return;
    if (a->out.len == 0) {
        if (a->close_after_write)
            sess_close(a);
        return;
    }
    uv_buf_t buf = uv_buf_init((char *)a->out.data, (unsigned)a->out.len);
    (void)net_conn_read_stop(&a->net);
    if (net_conn_write(&a->net, &buf, 1) != 0)
        sess_close(a);
}

/* Is user:password one of the configured admin credentials? *weak tells
 * whether it is admin:admin or has an empty password. */
static bool credentials_match(const struct admin_sess *a, const uint8_t *token, size_t token_len,
                              bool *weak)
{
    char creds[sizeof(a->l->cfg->admin_credentials)];
    snprintf(creds, sizeof(creds), "%s", a->l->cfg->admin_credentials);
    bool ok = false;
    char *save = NULL;
    for (char *pair = strtok_r(creds, ";", &save); pair; pair = strtok_r(NULL, ";", &save)) {
        char *colon = strchr(pair, ':');
        if (!colon)
            continue;
        *colon = '\0';
        const char *password = colon + 1;
        if (strcmp(pair, a->user) != 0)
            continue;
        uint8_t hash[20];
        codec_native_hash(password, strlen(password), hash);
        if (codec_native_verify(hash, password[0] != '\0', a->scramble, token, token_len)) {
            ok = true;
            *weak = admin_credential_weak(pair, password);
        }
        break;
    }
    memset(creds, 0, sizeof(creds));
    return ok;
}

static void deny(struct admin_sess *a, uint8_t seq, const char *why)
{
    char msg[300];
    snprintf(msg, sizeof(msg), "Access denied for user '%.100s'@'%s'%s", a->user, a->net.peer_ip,
             why);
    log_info("admin: access denied for user '%.100s' from %s%s", a->user, a->net.peer_ip, why);
    (void)codec_write_err(&a->out, seq, 1045, "28000", msg);
    a->close_after_write = true;
}

static void finish_login(struct admin_sess *a, uint8_t seq, const uint8_t *token, size_t len)
{
    bool weak = false;
    if (!credentials_match(a, token, len, &weak)) {
        deny(a, seq, " (using password: YES)");
        return;
    }
    if (weak && !a->loopback) {
        /* The client hears what a wrong password gets: nothing confirms to
         * a remote guesser that admin:admin is right. */
        log_warn("admin: user '%.100s' from %s has the default or an empty password, which "
                 "work only from localhost",
                 a->user, a->net.peer_ip);
        deny(a, seq, " (using password: YES)");
        return;
    }
    a->state = AS_READY;
    net_conn_timer(&a->net, 0);
    (void)codec_write_ok(&a->out, seq, 0, 0, SERVER_STATUS_AUTOCOMMIT_F, 0, NULL);
}

static void handshake(struct admin_sess *a, const uint8_t *p, size_t len, uint8_t seq)
{
    struct codec_handshake_response hr;
    if (codec_handshake_response_parse(p, len, &hr) != 0 || !hr.user) {
        (void)codec_write_err(&a->out, (uint8_t)(seq + 1), 1043, "08S01", "Bad handshake");
        a->close_after_write = true;
        return;
    }
    a->caps = hr.caps & ADMIN_CAPS;
    snprintf(a->user, sizeof(a->user), "%.*s", (int)(hr.user_len < 127 ? hr.user_len : 127),
             (const char *)hr.user);
    bool native =
        !hr.plugin || (hr.plugin_len == 21 && memcmp(hr.plugin, "mysql_native_password", 21) == 0);
    if (!native && (a->caps & CLIENT_PLUGIN_AUTH_F)) {
        a->state = AS_SWITCH;
        (void)codec_write_auth_switch(&a->out, (uint8_t)(seq + 1), "mysql_native_password",
                                      a->scramble);
        return;
    }
    finish_login(a, (uint8_t)(seq + 1), hr.auth, hr.auth_len);
}

/* Encodes an admin_execute() result for the client. */
static void send_result(struct admin_sess *a, const struct admin_result *res)
{
    int rc = 0;
    if (res->kind == ADMIN_RES_ERROR) {
        rc = codec_write_err(&a->out, 1, res->err_code ? res->err_code : 1105,
                             res->err_sqlstate[0] ? res->err_sqlstate : "HY000", res->err_msg);
    } else if (res->kind == ADMIN_RES_OK) {
        rc = codec_write_ok(&a->out, 1, res->affected_rows, 0, SERVER_STATUS_AUTOCOMMIT_F,
                            res->n_warnings > UINT16_MAX ? UINT16_MAX : (uint16_t)res->n_warnings,
                            NULL);
    } else {
        struct codec_resultset rs;
        rc = codec_rs_begin(&rs, &a->out, 1, a->caps, SERVER_STATUS_AUTOCOMMIT_F,
                            (unsigned)res->ncols, (const char *const *)res->col_names);
        for (size_t r = 0; rc == 0 && r < res->nrows; r++)
            rc = codec_rs_row(&rs, (unsigned)res->ncols, (const char *const *)res->rows[r]);
        if (rc == 0)
            rc = codec_rs_end(&rs);
    }
    if (rc != 0)
        a->close_after_write = true;
}

/* The workers' rows are in: the statement that waited for them runs. */
static void plist_ready(struct stats_plist_wait *w)
{
    struct admin_sess *a =
        (struct admin_sess *)((char *)w - offsetof(struct admin_sess, plist_wait));
    a->plist_waiting = false;
    if (a->plist_asking)
        return; /* answered at once: wait_for_processlist goes on */
    a->plist_fresh = true;
    if (net_conn_read_start(&a->net, ADMIN_READ_MAX) != 0) {
        sess_close(a);
        return;
    }
    process(a);
}

static bool names_processlist(const uint8_t *sql, size_t len)
{
    static const char word[] = "processlist";
    for (size_t i = 0; i + sizeof(word) - 1 <= len; i++)
        if (strncasecmp((const char *)sql + i, word, sizeof(word) - 1) == 0)
            return true;
    return false;
}

/* Whether the statement must first wait, unread, for fresh processlist
 * rows: it names the table (a false positive costs a round of the
 * workers). The main loop goes on meanwhile; plist_ready runs it again. */
static bool wait_for_processlist(struct admin_sess *a, const uint8_t *sql, size_t len)
{
    if (a->plist_fresh) {
        a->plist_fresh = false;
        return false;
    }
    if (!a->l->proxy || !names_processlist(sql, len))
        return false;
    a->plist_wait.done = plist_ready;
    a->plist_waiting = a->plist_asking = true;
    (void)net_conn_read_stop(&a->net);
    stats_plist_ask(proxy_stats(a->l->proxy), &a->plist_wait);
    a->plist_asking = false;
    if (a->plist_waiting)
        return true;
    /* Answered at once (no exchange running). Reading must resume, or the
     * session could never be answered again: close it if it cannot. */
    if (net_conn_read_start(&a->net, ADMIN_READ_MAX) == 0)
        return false;
    sess_close(a);
    return true;
}

static void run_query(struct admin_sess *a, const uint8_t *sql, size_t len)
{
    struct admin_result res;
    memset(&res, 0, sizeof(res));
    /* Warnings belong to the session; SHOW WARNINGS leaves them in place. */
    if (admin_is_show_warnings((const char *)sql, len)) {
        (void)admin_warnings_result(a->warnings, a->n_warnings, &res); /* errors are in res */
        send_result(a, &res);
        admin_result_free(&res);
        return;
    }
    if (wait_for_processlist(a, sql, len))
        return;
    if (a->l->txn_owner && a->l->txn_owner != a) {
        (void)codec_write_err(&a->out, 1, 1205, "HY000",
                              "Another admin session has a transaction open (BEGIN without "
                              "COMMIT or ROLLBACK); try again when it ends");
        return;
    }
    admin_execute(a->l->store, a->l->cfg, (const char *)sql, len, &res);
    a->l->txn_owner = admin_store_in_transaction(a->l->store) ? a : NULL;
    free(a->warnings);
    a->warnings = res.warnings;
    a->n_warnings = res.n_warnings;
    res.warnings = NULL;
    if (res.new_runtime) {
        if (a->l->proxy && proxy_publish(a->l->proxy, res.new_runtime) != 0)
            log_warn("admin: runtime published with errors (see above)");
        admin_config_unref(a->l->cfg);
        a->l->cfg = res.new_runtime; /* our reference now */
        res.new_runtime = NULL;
        log_info("admin: user '%s' loaded a new runtime configuration", a->user);
    }
    if (res.actions && a->l->proxy)
        proxy_admin_actions(a->l->proxy, res.actions); /* PROXYSQL PAUSE, RESUME... */
    send_result(a, &res);
    admin_result_free(&res);
}

static void command(struct admin_sess *a, const uint8_t *p, size_t len)
{
    if (len == 0) {
        (void)codec_write_err(&a->out, 1, 1047, "08S01", "Empty command packet");
        return;
    }
    switch (p[0]) {
    case 0x01: /* COM_QUIT */
        sess_close(a);
        return;
    case 0x03: /* COM_QUERY */
        run_query(a, p + 1, len - 1);
        return;
    case 0x02: /* COM_INIT_DB: one schema, 'main' */
    case 0x0e: /* COM_PING */
    case 0x1f: /* COM_RESET_CONNECTION */
        (void)codec_write_ok(&a->out, 1, 0, 0, SERVER_STATUS_AUTOCOMMIT_F, 0, NULL);
        return;
    case 0x1b: /* COM_SET_OPTION */
        (void)codec_write_eof(&a->out, 1, SERVER_STATUS_AUTOCOMMIT_F, 0);
        return;
    default:
        (void)codec_write_err(&a->out, 1, 1047, "08S01",
                              "Command not supported by the admin interface");
    }
}

static void process(struct admin_sess *a)
{
    while (a->state != AS_CLOSING && !a->close_after_write && !a->net.writing &&
           !a->plist_waiting) {
        const struct net_buf *in = &a->net.in;
        unsigned npk;
        uint8_t last_seq;
        uint64_t max = a->state == AS_READY ? ADMIN_MAX_MESSAGE : ADMIN_PREAUTH_MAX_MESSAGE;
        if (codec_message_announced(in->data, in->len, &last_seq) > max) {
            (void)codec_write_err(&a->out, (uint8_t)(last_seq + 1), 1153, "08S01",
                                  "Admin statement too large");
            a->close_after_write = true;
            break;
        }
        long span = codec_message_span(in->data, in->len, &npk);
        if (span < 0)
            break;
        if (npk != 1) {
            (void)codec_write_err(&a->out, 1, 1153, "08S01", "Admin statement too large");
            a->close_after_write = true;
            break;
        }
        uint32_t plen = codec_u24(in->data);
        uint8_t seq = in->data[3];
        const uint8_t *payload = in->data + 4;
        if (a->state == AS_HANDSHAKE)
            handshake(a, payload, plen, seq);
        else if (a->state == AS_SWITCH)
            finish_login(a, (uint8_t)(seq + 1), payload, plen);
        else
            command(a, payload, plen);
        if (a->state == AS_CLOSING)
            return;
        if (a->plist_waiting)
            break; /* the message stays: it runs when the rows are in */
        net_conn_consume(&a->net, (size_t)span);
    }
    flush(a);
}

static void on_data(struct net_conn *c, ssize_t nread)
{
    struct admin_sess *a = c->data;
    if (nread < 0) {
        sess_close(a);
        return;
    }
    process(a);
}

static void on_login_timeout(struct net_conn *c)
{
    struct admin_sess *a = c->data;
    if (a->state == AS_HANDSHAKE || a->state == AS_SWITCH) {
        log_info("admin: no login from %s within mysql-connect_timeout_client (%d ms)",
                 a->net.peer_ip, a->l->cfg->connect_timeout_client_ms);
        sess_close(a);
    }
}

static const struct net_ops sess_ops = {
    .data = on_data,
    .written = on_written,
    .timeout = on_login_timeout,
    .closed = sess_closed,
};

/* Greets a new session, or refuses it with 1040 past ADMIN_MAX_SESSIONS. */
static void greet(struct admin_sess *a)
{
    struct ops_admin *l = a->l;
    if (getrandom(a->scramble, sizeof(a->scramble), 0) != (ssize_t)sizeof(a->scramble))
        for (size_t i = 0; i < sizeof(a->scramble); i++)
            a->scramble[i] = (uint8_t)rand();
    for (size_t i = 0; i < sizeof(a->scramble); i++)
        a->scramble[i] = (uint8_t)(33 + a->scramble[i] % 94);
    a->state = AS_HANDSHAKE;
    if (l->lst.nconns > ADMIN_MAX_SESSIONS) {
        log_warn("admin: refused a connection from %s: %d admin sessions already open",
                 a->net.peer_ip, ADMIN_MAX_SESSIONS);
        (void)codec_write_err(&a->out, 0, 1040, "08004", "Too many connections");
        a->close_after_write = true;
        flush(a);
        return;
    }
    net_conn_timer(&a->net, (uint64_t)l->cfg->connect_timeout_client_ms);
    if (codec_write_handshake(&a->out, a->id, "10.11.6-Sluice-admin", a->scramble, ADMIN_CAPS, 45,
                              SERVER_STATUS_AUTOCOMMIT_F, "mysql_native_password") != 0 ||
        net_conn_read_start(&a->net, ADMIN_READ_MAX) != 0) {
        sess_close(a);
        return;
    }
    flush(a);
}

static void on_accept(struct net_listener *lst)
{
    struct ops_admin *l = lst->data;
    struct admin_sess *a = calloc(1, sizeof(*a));
    if (!a)
        return;
    a->l = l;
    a->id = ++l->next_id;
    codec_buf_init(&a->out);
    if (net_listener_accept(lst, &a->net, &sess_ops, a) != 0) {
        sess_close(a);
        return;
    }
    a->loopback = admin_addr_is_loopback(a->net.peer_ip);
    greet(a);
}

struct ops_admin *ops_admin_listen(uv_loop_t *loop, struct admin_store *store, struct proxy *proxy,
                                   struct admin_config *cfg, char *errbuf, size_t errlen)
{
    char host[256];
    int port;
    if (admin_check_exposure(cfg->admin_interfaces, cfg->admin_credentials, errbuf, errlen) != 0 ||
        ops_admin_iface(cfg, host, sizeof(host), &port, errbuf, errlen) != 0)
        return NULL;
    struct ops_admin *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    l->store = store;
    l->proxy = proxy;
    l->cfg = admin_config_ref(cfg);
    l->lst.accept = on_accept;
    l->lst.closed = listener_closed;
    l->lst.data = l;
    int rc = net_listener_open(&l->lst, loop, host, port, 128);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot listen on %s:%d (admin): %s", host, port, uv_strerror(rc));
        net_listener_close(&l->lst);
        uv_run(loop, UV_RUN_NOWAIT); /* listener_closed frees l */
        return NULL;
    }
    log_info("admin interface on %s:%d", host, port);
    return l;
}

int ops_admin_iface(const struct admin_config *cfg, char *host, size_t hostlen, int *port,
                    char *errbuf, size_t errlen)
{
    if (admin_first_hostport(cfg->admin_interfaces, host, hostlen, port) != 0) {
        snprintf(errbuf, errlen, "invalid admin-mysql_ifaces '%s'", cfg->admin_interfaces);
        return -1;
    }
    return 0;
}

void ops_admin_close(struct ops_admin *l)
{
    if (!l)
        return;
    /* Our own close first: it rolls back a transaction left open. */
    for (struct net_conn *c = l->lst.conns; c; c = c->lnext)
        sess_close(c->data);
    net_listener_close(&l->lst);
}
