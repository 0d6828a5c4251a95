/*
 * The response parser (proxy/response.c), driven by tables of packet
 * sequences as a backend sends them, with the session and backend built in
 * memory. Each case says what the client must receive: the same packets,
 * or the ones a translation (CLIENT_DEPRECATE_EOF, metadata caching)
 * produces, renumbered. Every case also runs with its bytes arriving one at
 * a time, which must give the same output: rows stream through as they come.
 */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "proxy/response.h"

#include <cmocka.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK_PLAIN "\x00\x00\x00\x02\x00\x00\x00"
#define EOF_ "\xfe\x00\x00\x02\x00"
#define EOF_MORE "\xfe\x00\x00\x0a\x00"   /* SERVER_MORE_RESULTS_EXISTS */
#define EOF_CURSOR "\xfe\x00\x00\x42\x00" /* SERVER_STATUS_CURSOR_EXISTS */
#define COLDEF                                                                                     \
    "\x03"                                                                                         \
    "def\x00\x00\x00\x01v\x00\x0c\x21\x00\xff\x00\x00\x00\xfd\x00\x00\x00\x00\x00"
#define ROW1                                                                                       \
    "\x01"                                                                                         \
    "1"
#define ERR_ "\xff\x26\x04#HY000boom"

/* A packet list: payloads with their lengths, numbered from `first`. */
struct pkts {
    const char *p[12];
    size_t n[12];
    int count;
};
#define P(s) s, sizeof(s) - 1

static struct pkts list(int count, ...)
{
    struct pkts l = {.count = count};
    va_list ap;
    va_start(ap, count);
    for (int i = 0; i < count; i++) {
        l.p[i] = va_arg(ap, const char *);
        l.n[i] = va_arg(ap, size_t);
    }
    va_end(ap);
    return l;
}

static void frame(struct codec_buf *b, const struct pkts *l, uint8_t first)
{
    for (int i = 0; i < l->count; i++) {
        uint8_t h[4];
        codec_header_write(h, (uint32_t)l->n[i], (uint8_t)(first + i));
        assert_int_equal(codec_buf_append(b, h, 4), 0);
        assert_int_equal(codec_buf_append(b, l->p[i], l->n[i]), 0);
    }
}

static struct session *new_session(uint32_t client_caps)
{
    struct session *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->be = backend_new();
    assert_non_null(s->be);
    codec_buf_init(&s->out);
    codec_buf_init(&s->meta);
    codec_buf_init(&s->in);
    codec_buf_init(&s->rewrite);
    varset_init(&s->vars);
    s->caps = client_caps | CLIENT_PROTOCOL_41_F;
    snprintf(s->username, sizeof(s->username), "test");
    return s;
}

static void free_session(struct session *s)
{
    backend_free(s->be);
    codec_buf_free(&s->out);
    codec_buf_free(&s->meta);
    codec_buf_free(&s->in);
    codec_buf_free(&s->rewrite);
    varset_free(&s->vars);
    free(s);
}

static const struct resp_peer peer = {.caps = CLIENT_PROTOCOL_41_F, .ext_caps = 0, .hostgroup = 0};

/* Feeds wire (all at once, or a byte at a time) and returns the parser's
 * last result; the client's bytes are in s->out. */
static int feed(struct session *s, const struct codec_buf *wire, bool bytewise)
{
    int rc = 0;
    size_t step = bytewise ? 1 : wire->len;
    for (size_t off = 0; off < wire->len && rc == 0; off += step) {
        size_t n = wire->len - off < step ? wire->len - off : step;
        assert_int_equal(codec_buf_append(&s->be->rbuf, wire->data + off, n), 0);
        rc = response_parse(s);
        if (s->be->rpos == s->be->rbuf.len)
            s->be->rbuf.len = s->be->rpos = 0;
    }
    return rc;
}

struct rcase {
    const char *name;
    enum resp_kind kind;
    uint32_t client_caps;
    struct pkts backend; /* numbered from 1 */
    int rc;              /* 1 complete, or response_parse()'s PROXY_E* code */
    struct pkts client;  /* what the client gets, numbered from 1 */
    bool error;          /* resp.error at the end */
};

static void run_case(const struct rcase *c, bool bytewise)
{
    struct session *s = new_session(c->client_caps);
    struct codec_buf wire, want;
    codec_buf_init(&wire);
    codec_buf_init(&want);
    frame(&wire, &c->backend, 1);
    frame(&want, &c->client, 1);
    response_start(s, c->kind, false, &peer);
    response_expect_reply(&s->resp, (const uint8_t *)"\x01\x00\x00\x00\x03", 5);
    int rc = feed(s, &wire, bytewise);
    if (rc != c->rc)
        fail_msg("%s (%s): rc %d, want %d", c->name, bytewise ? "bytewise" : "whole", rc, c->rc);
    if (c->rc == 1) {
        if (s->out.len != want.len || memcmp(s->out.data, want.data, want.len) != 0)
            fail_msg("%s (%s): client got %zu bytes, want %zu", c->name,
                     bytewise ? "bytewise" : "whole", s->out.len, want.len);
        assert_int_equal(s->resp.error, c->error);
    }
    codec_buf_free(&wire);
    codec_buf_free(&want);
    free_session(s);
}

static void test_table(void **state)
{
    (void)state;
    const struct rcase cases[] = {
        {"ok", RESP_QUERY, 0, list(1, P(OK_PLAIN)), 1, list(1, P(OK_PLAIN)), false},
        {"error", RESP_QUERY, 0, list(1, P(ERR_)), 1, list(1, P(ERR_)), true},
        {"result, classic EOF", RESP_QUERY, 0,
         list(6, P("\x01"), P(COLDEF), P(EOF_), P(ROW1), P(ROW1), P(EOF_)), 1,
         list(6, P("\x01"), P(COLDEF), P(EOF_), P(ROW1), P(ROW1), P(EOF_)), false},
        {"result, client deprecates EOF", RESP_QUERY, CLIENT_DEPRECATE_EOF_F,
         list(5, P("\x01"), P(COLDEF), P(EOF_), P(ROW1), P(EOF_)), 1,
         list(4, P("\x01"), P(COLDEF), P(ROW1), P("\xfe\x00\x00\x02\x00\x00\x00")), false},
        {"error in the middle of rows", RESP_QUERY, 0,
         list(5, P("\x01"), P(COLDEF), P(EOF_), P(ROW1), P(ERR_)), 1,
         list(5, P("\x01"), P(COLDEF), P(EOF_), P(ROW1), P(ERR_)), true},
        {"two results", RESP_QUERY, 0,
         list(6, P("\x01"), P(COLDEF), P(EOF_), P(ROW1), P(EOF_MORE), P(OK_PLAIN)), 1,
         list(6, P("\x01"), P(COLDEF), P(EOF_), P(ROW1), P(EOF_MORE), P(OK_PLAIN)), false},
        {"execute opens a cursor", RESP_EXECUTE, 0, list(3, P("\x01"), P(COLDEF), P(EOF_CURSOR)), 1,
         list(3, P("\x01"), P(COLDEF), P(EOF_CURSOR)), false},
        {"fetch rows", RESP_FETCH, 0, list(2, P("\x00\x00\x01"), P(EOF_)), 1,
         list(2, P("\x00\x00\x01"), P(EOF_)), false},
        {"field list", RESP_FIELD_LIST, 0, list(2, P(COLDEF), P(EOF_)), 1,
         list(2, P(COLDEF), P(EOF_)), false},
        {"simple command answered with EOF", RESP_SIMPLE, 0, list(1, P(EOF_)), 1, list(1, P(EOF_)),
         false},
        {"column count with trailing bytes", RESP_QUERY, 0, list(1, P("\x07\x07\x07")),
         PROXY_EPROTO, list(0), false},
        {"unrequested LOCAL INFILE", RESP_QUERY, 0, list(1, P("\xfb/etc/passwd")), PROXY_EINFILE,
         list(0), false},
        {"prepare reply too short", RESP_PREPARE, 0, list(1, P("\x00\x01\x00")), PROXY_EPROTO,
         list(0), false},
        {"simple command answered with a result set", RESP_SIMPLE, 0, list(1, P("\x01")),
         PROXY_EPROTO, list(0), false},
        {"malformed OK", RESP_QUERY, 0, list(1, P("\x00\xfc")), PROXY_EPROTO, list(0), false},
        {"malformed column definition of a prepare", RESP_PREPARE, 0,
         list(2, P("\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"),
              P("\x03"
                "de")),
         PROXY_EPROTO, list(0), false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].client.count == 0 && cases[i].rc == 1)
            continue; /* checked by its own test */
        run_case(&cases[i], false);
        run_case(&cases[i], true);
    }
}

/* Every code has its own text; other values get the fallback. */
static void test_strerror(void **state)
{
    (void)state;
    static const int codes[] = {0,         PROXY_ENOMEM, PROXY_EPROTO, PROXY_EINFILE,
                                PROXY_EIO, PROXY_EINVAL, PROXY_ETOOBIG};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *msg = proxy_strerror(codes[i]);
        assert_non_null(msg);
        assert_true(msg[0] != '\0');
        assert_string_not_equal(msg, "unknown proxy error");
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(msg, proxy_strerror(codes[k]));
    }
    assert_string_equal(proxy_strerror(-100), "unknown proxy error");
    assert_string_equal(proxy_strerror(2), "unknown proxy error");
}

/* A reply that numbers its packets out of order is a protocol error, even
 * when every packet is well formed. */
static void test_sequence_gap(void **state)
{
    (void)state;
    struct session *s = new_session(0);
    struct codec_buf wire;
    codec_buf_init(&wire);
    struct pkts l = list(2, P("\x01"), P(COLDEF));
    frame(&wire, &l, 1);
    wire.data[4 + 1 + 3] = 7; /* the definition claims sequence 7 */
    response_start(s, RESP_QUERY, false, &peer);
    response_expect_reply(&s->resp, (const uint8_t *)"\x01\x00\x00\x00\x03", 5);
    assert_int_equal(feed(s, &wire, false), PROXY_EPROTO);
    codec_buf_free(&wire);
    free_session(s);
}

/* The first packet of the reply must follow the command's last one. */
static void test_first_packet_numbered_after_the_command(void **state)
{
    (void)state;
    struct session *s = new_session(0);
    struct codec_buf wire;
    codec_buf_init(&wire);
    struct pkts l = list(1, P(OK_PLAIN));
    frame(&wire, &l, 5);
    response_start(s, RESP_QUERY, false, &peer);
    response_expect_reply(&s->resp, (const uint8_t *)"\x01\x00\x00\x00\x03", 5);
    assert_int_equal(feed(s, &wire, false), PROXY_EPROTO);
    codec_buf_free(&wire);
    free_session(s);
}

/* A prepare reply: the client sees its own statement id, and the column
 * definitions are kept for metadata caching. */
static void test_prepare_reply(void **state)
{
    (void)state;
    struct session *s = new_session(0);
    struct cstmt st = {.id = 42};
    s->cur_stmt = &st;
    struct codec_buf wire;
    codec_buf_init(&wire);
    /* stmt id 9, 1 column, 1 parameter */
    struct pkts l = list(5, P("\x00\x09\x00\x00\x00\x01\x00\x01\x00\x00\x00\x00"), P(COLDEF),
                         P(EOF_), P(COLDEF), P(EOF_));
    frame(&wire, &l, 1);
    response_start(s, RESP_PREPARE, false, &peer);
    assert_int_equal(feed(s, &wire, true), 1);
    assert_int_equal(s->resp.prep_stmt_id, 9);
    assert_int_equal(s->resp.prep_params, 1);
    assert_int_equal(s->resp.prep_cols, 1);
    assert_int_equal(codec_u32(s->out.data + 5), 42);
    assert_true(s->meta.len > 0); /* the column definition and its EOF */
    codec_buf_free(&wire);
    free_session(s);
}

/* MariaDB metadata caching: an execute reply without definitions gets the
 * ones kept from the prepare, renumbered. */
static void test_cached_metadata_replayed(void **state)
{
    (void)state;
    struct session *s = new_session(0);
    struct bstmt b = {.ncols = 1};
    codec_buf_init(&b.coldefs);
    struct pkts defs = list(2, P(COLDEF), P(EOF_));
    frame(&b.coldefs, &defs, 0);
    s->cur_bstmt = &b;
    struct codec_buf wire, want;
    codec_buf_init(&wire);
    codec_buf_init(&want);
    /* column count 1 + "definitions do not follow", then rows: the server
     * sends no EOF after the omitted definitions. */
    struct pkts l = list(3, P("\x01\x00"), P("\x00\x00\x01"), P(EOF_));
    frame(&wire, &l, 1);
    struct pkts w = list(5, P("\x01"), P(COLDEF), P(EOF_), P("\x00\x00\x01"), P(EOF_));
    frame(&want, &w, 1);
    struct resp_peer mariadb = peer;
    mariadb.ext_caps = MARIADB_EXT_CACHE_METADATA;
    response_start(s, RESP_EXECUTE, false, &mariadb);
    assert_int_equal(feed(s, &wire, false), 1);
    assert_int_equal(s->out.len, want.len);
    assert_memory_equal(s->out.data, want.data, want.len);
    codec_buf_free(&wire);
    codec_buf_free(&want);
    codec_buf_free(&b.coldefs);
    free_session(s);
}

/* An OK packet's session tracking reaches the session and the backend, and
 * the client (which did not ask for tracking) gets the OK without it. */
static void test_tracking_applied(void **state)
{
    (void)state;
    struct session *s = new_session(0);
    /* OK with SERVER_SESSION_STATE_CHANGED, info "", tracking: schema "db1" */
    static const char ok[] = "\x00\x00\x00\x02\x40\x00\x00\x00\x06\x01\x04\x03"
                             "db1";
    struct codec_buf wire;
    codec_buf_init(&wire);
    struct pkts l = list(1, ok, sizeof(ok) - 1);
    frame(&wire, &l, 1);
    struct resp_peer tracked = peer;
    tracked.caps |= CLIENT_SESSION_TRACK_F;
    response_start(s, RESP_QUERY, false, &tracked);
    assert_int_equal(feed(s, &wire, false), 1);
    assert_string_equal(s->schema, "db1");
    assert_string_equal(s->be->schema, "db1");
    assert_true(s->out.len < wire.len);
    codec_buf_free(&wire);
    free_session(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_sequence_gap),
        cmocka_unit_test(test_first_packet_numbered_after_the_command),
        cmocka_unit_test(test_prepare_reply),
        cmocka_unit_test(test_cached_metadata_replayed),
        cmocka_unit_test(test_tracking_applied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
