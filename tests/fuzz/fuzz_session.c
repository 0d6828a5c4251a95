/*
 * libFuzzer target for the client session state machine (proxy/session.c):
 * the client's byte stream from the greeting through login to commands,
 * with a memory transport in place of the socket and a fake backend in
 * place of the relay and the pool. No socket is opened.
 *
 * How:
 * - The session gets a struct session_io whose writes are taken whole and
 *   thrown away, and whose close is reported back at once.
 * - This file defines every function of proxy/backend.c that the session
 *   calls (backend_begin, backend_detach, ...), so the archive's backend.o
 *   and the pool are never linked. The fake backend answers each command
 *   that needs a server by running the input's backend reply through the
 *   real response parser (proxy/response.c), then ends the command as the
 *   relay would.
 * - The runtime configuration comes from a real store in a temporary
 *   directory, with a user "app" without a password (so fuzzed logins can
 *   pass the native check against a random scramble) and the login back-off
 *   off (its timer would stall the input).
 *
 * Input: byte 0 is the size of each chunk the client's bytes arrive in
 * (0: all at once); bytes 1-2 (little-endian) the length R of the backend
 * reply that follows; then R bytes of reply; the rest is what the client
 * sends. Seeds: tests/fuzz/corpus/session/.
 *
 * Checks: the sanitizers; the session never holds more input than its
 * bounds allow (the 16 KiB login bound, mysql-max_allowed_packet and the
 * 64 KiB read-ahead); every session is freed by the end of each input.
 */
#include "admin/admin.h"
#include "proxy/proxy_int.h"
#include "proxy/response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct proxy proxy;
static struct worker worker;
static struct admin_store *store;
static const uint8_t *reply; /* this input's backend reply */
static size_t reply_len;
static bool io_closed;

/* ------------------------------------------------------- memory transport */

static int mem_try_write(struct session *s, const uint8_t *data, size_t len)
{
    (void)s;
    (void)data;
    return (int)len;
}

static int mem_write(struct session *s, const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
    session_write_done(s, 0);
    return 0;
}

static int mem_read(struct session *s, bool on)
{
    (void)s;
    (void)on;
    return 0;
}

static void mem_close(struct session *s)
{
    (void)s;
    io_closed = true; /* reported after the current call returns */
}

static const struct session_io mem_io = {
    .try_write = mem_try_write,
    .write = mem_write,
    .read = mem_read,
    .close = mem_close,
};

/* ------------------------------------------------------- fake backend */

static enum resp_kind kind_of(uint8_t cmd)
{
    switch (cmd) {
    case 0x03:
        return RESP_QUERY;
    case 0x04:
        return RESP_FIELD_LIST;
    case 0x09:
        return RESP_ANY_ONE;
    case 0x16:
        return RESP_PREPARE;
    case 0x17:
        return RESP_EXECUTE;
    case 0x1c:
        return RESP_FETCH;
    default:
        return RESP_SIMPLE;
    }
}

/* A prepare the server accepted: the session gets its statement, as the
 * relay gives it one. */
static void keep_statement(struct session *s)
{
    struct cstmt *st = calloc(1, sizeof(*st));
    size_t n = s->cmd_len - 5;
    CHECK(st && (st->sql = malloc(n ? n : 1)));
    memcpy(st->sql, s->in.data + 5, n);
    st->sql_len = n;
    st->id = s->next_stmt_id++;
    st->nparams = s->resp.prep_params;
    st->ncols = s->resp.prep_cols;
    codec_buf_init(&st->prep_resp);
    if (session_stmt_add(s, st) != 0) {
        free(st->sql);
        free(st);
    }
}

/* The relay's part: the reply streams through the real parser into the
 * session's output, and the command ends (an error if the reply was bad). */
void backend_begin(struct session *s)
{
    struct backend *be = backend_new();
    CHECK(be);
    s->be = be;
    session_set_state(s, SS_BACKEND);
    s->step = BS_FORWARD;
    const struct resp_peer peer = {.caps = 0x00800200u, .ext_caps = 0, .hostgroup = 0};
    response_start(s, kind_of(s->cmd), false, &peer);
    response_expect_reply(&s->resp, s->in.data, s->cmd_len);
    CHECK(codec_buf_append(&be->rbuf, reply, reply_len) == 0);
    int rc = response_parse(s);
    CHECK(be->rpos <= be->rbuf.len);
    if (s->resp.st == RS_INFILE)
        rc = -1; /* no file comes from the fuzzer's client in one go */
    s->be = NULL;
    backend_free(be);
    if (rc == 1 && s->cmd == 0x16 && !s->resp.error)
        keep_statement(s);
    if (rc != 1)
        session_send_error(s, 1, 2013, "HY000", "Lost connection to backend server during query");
    session_command_done(s);
}

void backend_detach(struct session *s, bool reusable)
{
    (void)reusable;
    s->conn = NULL;
}

void backend_resume(struct session *s)
{
    (void)s;
}

void backend_forward_infile(struct session *s)
{
    (void)s;
}

size_t backend_queued(const struct session *s)
{
    (void)s;
    return 0;
}

/* ----------------------------------------------------------- setup */

static const char config[] =
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (0, '127.0.0.1', 9);\n"
    "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('app', '', 0);\n"
    "INSERT OR REPLACE INTO global_variables VALUES ('mysql-auth_failure_delay_ms', '0'),\n"
    " ('mysql-monitor_enabled', 'false'), ('mysql-threads', '1');\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char root[] = "/tmp/sluice-fuzz-session.XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char path[256], datadir[256], err[512];
    snprintf(path, sizeof(path), "%s/config.sql", root);
    snprintf(datadir, sizeof(datadir), "%s/data", root);
    FILE *f = fopen(path, "w");
    CHECK(f && fputs(config, f) >= 0 && fclose(f) == 0);
    struct admin_config *cfg = NULL;
    if (admin_store_open(datadir, path, &store, err, sizeof(err)) != 0 ||
        admin_config_load(store, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_session: %s\n", err);
        abort();
    }
    proxy.cfg = cfg;
    proxy.nworkers = 1;
    proxy.workers = &worker;
    CHECK(limits_init(&proxy) == 0 && hostcache_init(&proxy) == 0 && kill_reg_init(&proxy) == 0);
    worker.proxy = &proxy;
    worker.cfg = admin_config_ref(cfg);
    CHECK(uv_loop_init(&worker.loop) == 0);
    CHECK(stats_new(1, &proxy.stats) == 0);
    worker.stats = stats_worker(proxy.stats, 0);
    worker.counters = stats_counters(worker.stats);
    log_set_level(LOG_LEVEL_ERROR);
    return 0;
}

/* Lets closes finish: the transport's, then the timer's on the loop. */
static void settle(struct session *s)
{
    if (io_closed) {
        io_closed = false;
        session_io_closed(s);
    }
    uv_run(&worker.loop, UV_RUN_NOWAIT);
}

static void check_bounds(const struct session *s)
{
    /* 16 MiB chunks of a message over max_allowed_packet never all arrive,
     * and a busy session reads ahead 64 KiB plus one read. */
    CHECK(s->in.len <= (size_t)s->cfg->max_allowed_packet + (1u << 20));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t chunk = data[0] ? data[0] : SIZE_MAX;
    reply_len = (size_t)data[1] | (size_t)data[2] << 8;
    if (reply_len > size - 3)
        reply_len = size - 3;
    reply = data + 3;
    const uint8_t *client = reply + reply_len;
    size_t client_len = size - 3 - reply_len;

    struct session *s = session_new(&worker, &mem_io);
    CHECK(s);
    snprintf(s->peer, sizeof(s->peer), "127.0.0.1:1");
    snprintf(s->peer_ip, sizeof(s->peer_ip), "127.0.0.1");
    session_start(s);
    for (size_t off = 0; off < client_len && worker.sessions == s && s->state != SS_CLOSING;) {
        size_t n = client_len - off < chunk ? client_len - off : chunk;
        uint8_t *base;
        size_t room;
        if (!s->reading || session_input_space(s, &base, &room) != 0)
            break;
        if (n > room)
            n = room;
        memcpy(base, client + off, n);
        off += n;
        session_input(s, (ssize_t)n);
        if (worker.sessions == s && s->state != SS_CLOSING)
            check_bounds(s);
        settle(s);
    }
    if (worker.sessions == s && s->state != SS_CLOSING)
        session_close(s);
    while (worker.sessions)
        settle(worker.sessions);
    return 0;
}
