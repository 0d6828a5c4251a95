/*
 * Unit tests for codec/codec.c and codec/sha1.c: byte-exact checks of what
 * the codec writes and of what it reads back from hand-built packets,
 * including every truncation of the inputs that matter.
 */
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first; keep the order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "codec/codec.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t scramble20[20] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                       11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

static void assert_bytes(const uint8_t *got, size_t got_len, const char *want, size_t want_len)
{
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

#define ASSERT_STR(p, n, lit) assert_bytes((p), (n), (lit), sizeof(lit) - 1)

/* ---- integers and headers ---- */

static void test_le_ints(void **state)
{
    uint8_t b[8];

    (void)state;
    codec_put_u16(b, 0xbeef);
    assert_int_equal(b[0], 0xef);
    assert_int_equal(b[1], 0xbe);
    assert_int_equal(codec_u16(b), 0xbeef);
    codec_put_u24(b, 0xabcdef);
    assert_memory_equal(b, "\xef\xcd\xab", 3);
    assert_int_equal(codec_u24(b), 0xabcdef);
    codec_put_u32(b, 0xdeadbeef);
    assert_memory_equal(b, "\xef\xbe\xad\xde", 4);
    assert_int_equal(codec_u32(b), 0xdeadbeef);
    memcpy(b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_true(codec_u64(b) == 0x0102030405060708ull);
}

static void test_header(void **state)
{
    uint8_t b[4];
    struct codec_header h = {0};

    (void)state;
    codec_header_write(b, 0x123456, 7);
    assert_memory_equal(b, "\x56\x34\x12\x07", 4);
    assert_int_equal(codec_header_parse(b, 4, &h), 0);
    assert_int_equal(h.len, 0x123456);
    assert_int_equal(h.seq, 7);
    codec_header_write(b, CODEC_MAX_PAYLOAD, 255);
    assert_int_equal(codec_header_parse(b, 4, &h), 0);
    assert_int_equal(h.len, 0xffffff);
    assert_int_equal(h.seq, 255);
    for (size_t n = 0; n < 4; n++)
        assert_int_equal(codec_header_parse(b, n, &h), CODEC_EAGAIN);
}

/* ---- reader ---- */

static void test_reader_fixed(void **state)
{
    static const uint8_t d[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a};
    struct codec_reader r;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    const uint8_t *p;
    size_t n;

    (void)state;
    codec_reader_init(&r, d, sizeof(d));
    assert_int_equal(codec_reader_left(&r), 10);
    assert_int_equal(codec_read_u8(&r, &u8), 0);
    assert_int_equal(u8, 0x01);
    assert_int_equal(codec_read_u16(&r, &u16), 0);
    assert_int_equal(u16, 0x0302);
    assert_int_equal(codec_read_u24(&r, &u32), 0);
    assert_int_equal(u32, 0x060504);
    assert_int_equal(codec_read_u32(&r, &u32), 0);
    assert_int_equal(u32, 0x0a090807);
    assert_int_equal(codec_reader_left(&r), 0);
    assert_int_equal(codec_read_u8(&r, &u8), CODEC_EINVAL);

    /* Each read fails cleanly one byte short and leaves the cursor alone. */
    codec_reader_init(&r, d, 3);
    assert_int_equal(codec_read_u32(&r, &u32), CODEC_EINVAL);
    assert_int_equal(r.pos, 0);
    codec_reader_init(&r, d, 2);
    assert_int_equal(codec_read_u24(&r, &u32), CODEC_EINVAL);
    codec_reader_init(&r, d, 1);
    assert_int_equal(codec_read_u16(&r, &u16), CODEC_EINVAL);
    assert_int_equal(r.pos, 0);

    codec_reader_init(&r, d, sizeof(d));
    assert_int_equal(codec_read_bytes(&r, 4, &p), 0);
    assert_ptr_equal(p, d);
    assert_int_equal(codec_read_bytes(&r, 7, &p), CODEC_EINVAL);
    assert_int_equal(r.pos, 4);
    codec_read_rest(&r, &p, &n);
    assert_ptr_equal(p, d + 4);
    assert_int_equal(n, 6);
    assert_int_equal(codec_reader_left(&r), 0);
    codec_read_rest(&r, &p, &n);
    assert_int_equal(n, 0);
}

struct lenenc_case {
    uint64_t v;
    size_t size;
    uint8_t first;
};

static const struct lenenc_case lenenc_cases[] = {
    {0, 1, 0x00},          {1, 1, 0x01},         {250, 1, 0xfa},
    {251, 3, 0xfc},        {0xffff, 3, 0xfc},    {0x10000, 4, 0xfd},
    {0xffffff, 4, 0xfd},   {0x1000000, 9, 0xfe}, {0x123456789abcdefull, 9, 0xfe},
    {UINT64_MAX, 9, 0xfe},
};

static void test_lenenc_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(lenenc_cases); i++) {
        const struct lenenc_case *c = &lenenc_cases[i];
        uint8_t b[9];
        struct codec_reader r;
        uint64_t v = 0;
        bool is_null = true;
        struct codec_buf buf;

        assert_int_equal(codec_lenenc_size(c->v), c->size);
        assert_int_equal(codec_put_lenenc(b, c->v), c->size);
        assert_int_equal(b[0], c->first);

        codec_reader_init(&r, b, c->size);
        assert_int_equal(codec_read_lenenc(&r, &v, &is_null), 0);
        assert_true(v == c->v);
        assert_false(is_null);
        assert_int_equal(r.pos, c->size);

        /* Same value through codec_buf; then every truncation fails. */
        codec_buf_init(&buf);
        assert_int_equal(codec_buf_lenenc(&buf, c->v), 0);
        assert_bytes(buf.data, buf.len, (const char *)b, c->size);
        codec_buf_free(&buf);
        for (size_t n = 0; n < c->size; n++) {
            codec_reader_init(&r, b, n);
            assert_int_equal(codec_read_lenenc(&r, &v, NULL), CODEC_EINVAL);
            assert_int_equal(r.pos, 0);
        }
    }
}

static void test_lenenc_markers(void **state)
{
    static const uint8_t null_marker[] = {0xfb};
    static const uint8_t err_marker[] = {0xff, 0x00, 0x00};
    /* A non-canonical 2-byte form of 5 is still decoded. */
    static const uint8_t long_small[] = {0xfc, 0x05, 0x00};
    struct codec_reader r;
    uint64_t v = 99;
    bool is_null = false;

    (void)state;
    codec_reader_init(&r, null_marker, 1);
    assert_int_equal(codec_read_lenenc(&r, &v, &is_null), 0);
    assert_true(is_null);
    assert_int_equal(v, 0);
    assert_int_equal(r.pos, 1);

    codec_reader_init(&r, null_marker, 1);
    assert_int_equal(codec_read_lenenc(&r, &v, NULL), CODEC_EINVAL);
    assert_int_equal(r.pos, 0);

    codec_reader_init(&r, err_marker, sizeof(err_marker));
    assert_int_equal(codec_read_lenenc(&r, &v, &is_null), CODEC_EINVAL);
    assert_int_equal(r.pos, 0);

    codec_reader_init(&r, long_small, sizeof(long_small));
    assert_int_equal(codec_read_lenenc(&r, &v, NULL), 0);
    assert_int_equal(v, 5);
}

static void test_lenenc_str(void **state)
{
    static const uint8_t good[] = {0x03, 'a', 'b', 'c', 0x00, 'x'};
    static const uint8_t short_data[] = {0x04, 'a', 'b', 'c'};
    static const uint8_t short_len[] = {0xfc, 0x01};
    static const uint8_t null_str[] = {0xfb};
    struct codec_reader r;
    const uint8_t *s = NULL;
    size_t n = 99;
    struct codec_buf b;
    char big[300];

    (void)state;
    codec_reader_init(&r, good, sizeof(good));
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), 0);
    ASSERT_STR(s, n, "abc");
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(r.pos, 5);
    /* 'x' read as a length of 120 with no data behind it. */
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), CODEC_EINVAL);
    assert_int_equal(r.pos, 5);

    codec_reader_init(&r, short_data, sizeof(short_data));
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), CODEC_EINVAL);
    assert_int_equal(r.pos, 0);
    codec_reader_init(&r, short_len, sizeof(short_len));
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), CODEC_EINVAL);
    codec_reader_init(&r, null_str, sizeof(null_str));
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), CODEC_EINVAL);
    codec_reader_init(&r, good, 0);
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), CODEC_EINVAL);

    /* A 300-byte string takes the 0xfc form and reads back whole. */
    memset(big, 'q', sizeof(big));
    codec_buf_init(&b);
    assert_int_equal(codec_buf_lenenc_str(&b, big, sizeof(big)), 0);
    assert_int_equal(b.len, 303);
    assert_memory_equal(b.data, "\xfc\x2c\x01", 3);
    codec_reader_init(&r, b.data, b.len);
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), 0);
    assert_int_equal(n, 300);
    assert_ptr_equal(s, b.data + 3);
    assert_memory_equal(s, big, 300);
    assert_int_equal(codec_reader_left(&r), 0);
    codec_buf_free(&b);
}

static void test_nul_str(void **state)
{
    static const uint8_t d[] = {'r', 'o', 'o', 't', 0, 0, 'a', 'b'};
    struct codec_reader r;
    const uint8_t *s;
    size_t n;

    (void)state;
    codec_reader_init(&r, d, sizeof(d));
    assert_int_equal(codec_read_nul_str(&r, &s, &n), 0);
    ASSERT_STR(s, n, "root");
    assert_int_equal(r.pos, 5);
    assert_int_equal(codec_read_nul_str(&r, &s, &n), 0);
    assert_int_equal(n, 0);
    assert_ptr_equal(s, d + 5);
    assert_int_equal(r.pos, 6);
    /* "ab" runs to the end without its NUL. */
    assert_int_equal(codec_read_nul_str(&r, &s, &n), CODEC_EINVAL);
    assert_int_equal(r.pos, 6);
    codec_reader_init(&r, d, 4);
    assert_int_equal(codec_read_nul_str(&r, &s, &n), CODEC_EINVAL);
    codec_reader_init(&r, NULL, 0);
    assert_int_equal(codec_read_nul_str(&r, &s, &n), CODEC_EINVAL);
}

/* ---- codec_buf ---- */

static void test_buf(void **state)
{
    struct codec_buf b;
    size_t off;

    (void)state;
    codec_buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(codec_buf_u8(&b, 0x11), 0);
    assert_int_equal(codec_buf_u16(&b, 0x2233), 0);
    assert_int_equal(codec_buf_u24(&b, 0x445566), 0);
    assert_int_equal(codec_buf_u32(&b, 0x778899aa), 0);
    assert_int_equal(codec_buf_nul_str(&b, "hi"), 0);
    assert_int_equal(codec_buf_lenenc_str(&b, "yo", 2), 0);
    assert_int_equal(codec_buf_append(&b, NULL, 0), 0);
    assert_bytes(b.data, b.len, "\x11\x33\x22\x66\x55\x44\xaa\x99\x88\x77hi\0\x02yo", 16);

    /* Growth keeps the contents and at least doubles. */
    for (int i = 0; i < 5000; i++)
        assert_int_equal(codec_buf_u8(&b, (uint8_t)i), 0);
    assert_int_equal(b.len, 5016);
    assert_true(b.cap >= 5016);
    assert_int_equal(b.data[0], 0x11);
    assert_int_equal(b.data[5015], (uint8_t)4999);

    codec_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);

    off = codec_buf_packet_begin(&b, 9);
    assert_int_equal(off, 0);
    assert_int_equal(codec_buf_append(&b, "abcde", 5), 0);
    codec_buf_packet_end(&b, off);
    assert_bytes(b.data, b.len,
                 "\x05\x00\x00\x09"
                 "abcde",
                 9);
    codec_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
}

/* ---- framing of large messages ---- */

static void check_split(size_t payload_len, unsigned want_packets)
{
    struct codec_buf b;
    uint8_t *payload = malloc(payload_len ? payload_len : 1);
    uint8_t seq = 3;
    unsigned npk = 0;
    size_t pos = 0, got = 0;
    long span;

    assert_non_null(payload);
    for (size_t i = 0; i < payload_len; i++)
        payload[i] = (uint8_t)(i * 7 + 1);
    codec_buf_init(&b);
    assert_int_equal(codec_buf_append_packets(&b, payload, payload_len, &seq), 0);
    assert_int_equal(seq, 3 + want_packets);
    assert_int_equal(b.len, payload_len + 4 * want_packets);

    /* Walk the packets: full ones, then a short (maybe empty) last one. */
    for (unsigned i = 0; i < want_packets; i++) {
        struct codec_header h;
        size_t want = payload_len - got < CODEC_MAX_PAYLOAD ? payload_len - got : CODEC_MAX_PAYLOAD;

        assert_int_equal(codec_header_parse(b.data + pos, b.len - pos, &h), 0);
        assert_int_equal(h.seq, 3 + i);
        assert_int_equal(h.len, want);
        assert_memory_equal(b.data + pos + 4, payload + got, want);
        pos += 4 + h.len;
        got += h.len;
    }
    assert_int_equal(pos, b.len);
    assert_int_equal(got, payload_len);

    span = codec_message_span(b.data, b.len, &npk);
    assert_int_equal(span, (long)b.len);
    assert_int_equal(npk, want_packets);
    /* One byte short anywhere means the message is not complete. */
    assert_int_equal(codec_message_span(b.data, b.len - 1, &npk), CODEC_EAGAIN);
    if (want_packets > 1) {
        size_t last_hdr =
            b.len - (payload_len - (size_t)(want_packets - 1) * CODEC_MAX_PAYLOAD) - 4;

        assert_int_equal(codec_message_span(b.data, last_hdr, &npk), CODEC_EAGAIN);
        assert_int_equal(codec_message_span(b.data, last_hdr + 3, &npk), CODEC_EAGAIN);
    }
    codec_buf_free(&b);
    free(payload);
}

/* The bound on a message is checked from its headers as they arrive. */
static void test_message_announced(void **state)
{
    (void)state;
    uint8_t buf[3 * (4 + 8)] = {0};
    uint8_t seq = 9;

    assert_int_equal(codec_message_announced(buf, 3, &seq), 0);
    assert_int_equal(seq, 0);
    /* A header promising 16 MiB - 1 counts in full before its payload. */
    codec_header_write(buf, CODEC_MAX_PAYLOAD, 0);
    assert_int_equal(codec_message_announced(buf, 4, &seq), CODEC_MAX_PAYLOAD);
    /* A short packet ends the message; what follows is another message. */
    codec_header_write(buf, 5, 2);
    codec_header_write(buf + 9, 100, 0);
    assert_int_equal(codec_message_announced(buf, sizeof(buf), &seq), 5);
    assert_int_equal(seq, 2);
}

/* A chain of full packets adds up as each header arrives. */
static void test_message_announced_chain(void **state)
{
    (void)state;
    size_t len = 2 * (4 + CODEC_MAX_PAYLOAD) + 4;
    uint8_t *buf = calloc(1, len);
    uint8_t seq;

    assert_non_null(buf);
    codec_header_write(buf, CODEC_MAX_PAYLOAD, 0);
    codec_header_write(buf + 4 + CODEC_MAX_PAYLOAD, CODEC_MAX_PAYLOAD, 1);
    codec_header_write(buf + 2 * (4 + CODEC_MAX_PAYLOAD), CODEC_MAX_PAYLOAD, 2);
    assert_int_equal(codec_message_announced(buf, 4 + CODEC_MAX_PAYLOAD, &seq), CODEC_MAX_PAYLOAD);
    assert_int_equal(codec_message_announced(buf, len, &seq), 3ull * CODEC_MAX_PAYLOAD);
    assert_int_equal(seq, 2);
    free(buf);
}

static void test_split_packets(void **state)
{
    (void)state;
    check_split(0, 1);
    check_split(10, 1);
    check_split(CODEC_MAX_PAYLOAD - 1, 1);
    check_split(CODEC_MAX_PAYLOAD, 2); /* exact multiple: empty terminator */
    check_split(CODEC_MAX_PAYLOAD + 10, 2);
    check_split(2 * (size_t)CODEC_MAX_PAYLOAD, 3);
}

static void test_message_span_small(void **state)
{
    /* Two complete packets back to back, then a partial third. */
    static const uint8_t d[] = {0x01, 0, 0, 0, 0x0e, 0x00, 0, 0, 1, 0x05, 0, 0, 2, 'a'};
    unsigned npk = 0;

    (void)state;
    assert_int_equal(codec_message_span(d, sizeof(d), &npk), 5);
    assert_int_equal(npk, 1);
    assert_int_equal(codec_message_span(d + 5, sizeof(d) - 5, &npk), 4);
    assert_int_equal(npk, 1);
    assert_int_equal(codec_message_span(d + 9, sizeof(d) - 9, &npk), CODEC_EAGAIN);
    for (size_t n = 0; n < 5; n++)
        assert_int_equal(codec_message_span(d, n, NULL), CODEC_EAGAIN);
    assert_int_equal(codec_message_span(d, 5, NULL), 5);
}

/* ---- OK / ERR / EOF ---- */

static void test_ok_plain(void **state)
{
    static const uint8_t ok[] = "\x00\x01\xfc\x00\x01\x02\x00\x03\x00Rows matched: 1";
    static const uint8_t minimal[] = {0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00};
    static const uint8_t eof_ok[] = {0xfe, 0x00, 0x00, 0x22, 0x00, 0x01, 0x00};
    static const uint8_t not_ok[] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00};
    struct codec_ok o;

    (void)state;
    assert_int_equal(codec_ok_parse(ok, sizeof(ok) - 1, 0, &o), 0);
    assert_int_equal(o.affected_rows, 1);
    assert_int_equal(o.last_insert_id, 256);
    assert_int_equal(o.status, SERVER_STATUS_AUTOCOMMIT_F);
    assert_int_equal(o.warnings, 3);
    ASSERT_STR(o.info, o.info_len, "Rows matched: 1");
    assert_null(o.session_state);
    assert_int_equal(o.session_state_len, 0);

    assert_int_equal(codec_ok_parse(minimal, sizeof(minimal), 0, &o), 0);
    assert_int_equal(o.affected_rows, 0);
    assert_int_equal(o.status, 2);
    assert_int_equal(o.info_len, 0);

    assert_int_equal(codec_ok_parse(eof_ok, sizeof(eof_ok), CLIENT_DEPRECATE_EOF_F, &o), 0);
    assert_int_equal(o.status, 0x22);
    assert_int_equal(o.warnings, 1);

    assert_int_equal(codec_ok_parse(not_ok, sizeof(not_ok), 0, &o), CODEC_EINVAL);
    for (size_t n = 0; n < sizeof(minimal); n++)
        assert_int_equal(codec_ok_parse(minimal, n, 0, &o), CODEC_EINVAL);
}

/*
 * OK after "SET autocommit=0; USE test; SET @x=1" as MariaDB reports it
 * with session tracking on.
 */
static size_t build_tracked_ok(uint8_t *out)
{
    static const uint8_t block[] = {/* system variable: autocommit = OFF */
                                    0x00, 0x0f, 0x0a, 'a', 'u', 't', 'o', 'c', 'o', 'm', 'm', 'i',
                                    't', 0x03, 'O', 'F', 'F',
                                    /* schema: test */
                                    0x01, 0x05, 0x04, 't', 'e', 's', 't',
                                    /* state change: "1" */
                                    0x02, 0x02, 0x01, '1'};
    size_t n = 0;

    out[n++] = 0x00; /* OK */
    out[n++] = 0x00; /* affected */
    out[n++] = 0x00; /* last id */
    codec_put_u16(out + n, SERVER_SESSION_STATE_CHANGED_F);
    n += 2;
    codec_put_u16(out + n, 0);
    n += 2;
    out[n++] = 0x00; /* info: empty lenenc string */
    out[n++] = (uint8_t)sizeof(block);
    memcpy(out + n, block, sizeof(block));
    return n + sizeof(block);
}

static void test_ok_session_track(void **state)
{
    uint8_t pkt[64];
    size_t len = build_tracked_ok(pkt);
    struct codec_ok o;
    struct codec_track_iter it;
    uint8_t type;
    const uint8_t *data, *name, *value;
    size_t data_len, name_len, value_len;

    (void)state;
    assert_int_equal(len, 9 + 28);
    assert_int_equal(codec_ok_parse(pkt, len, CLIENT_SESSION_TRACK_F | CLIENT_PROTOCOL_41_F, &o),
                     0);
    assert_int_equal(o.status, SERVER_SESSION_STATE_CHANGED_F);
    assert_int_equal(o.info_len, 0);
    assert_ptr_equal(o.session_state, pkt + 9);
    assert_int_equal(o.session_state_len, 28);

    codec_track_iter_init(&it, o.session_state, o.session_state_len);
    assert_int_equal(codec_track_next(&it, &type, &data, &data_len), 1);
    assert_int_equal(type, SESSION_TRACK_SYSTEM_VARIABLES);
    assert_int_equal(data_len, 15);
    assert_int_equal(codec_track_sysvar(data, data_len, &name, &name_len, &value, &value_len), 0);
    ASSERT_STR(name, name_len, "autocommit");
    ASSERT_STR(value, value_len, "OFF");

    assert_int_equal(codec_track_next(&it, &type, &data, &data_len), 1);
    assert_int_equal(type, SESSION_TRACK_SCHEMA);
    assert_int_equal(codec_track_schema(data, data_len, &name, &name_len), 0);
    ASSERT_STR(name, name_len, "test");

    assert_int_equal(codec_track_next(&it, &type, &data, &data_len), 1);
    assert_int_equal(type, SESSION_TRACK_STATE_CHANGE);
    assert_int_equal(codec_track_schema(data, data_len, &name, &name_len), 0);
    ASSERT_STR(name, name_len, "1");

    assert_int_equal(codec_track_next(&it, &type, &data, &data_len), 0);
    assert_int_equal(codec_track_next(&it, &type, &data, &data_len), 0);

    /* Without CLIENT_SESSION_TRACK the same bytes are all info. */
    assert_int_equal(codec_ok_parse(pkt, len, 0, &o), 0);
    assert_int_equal(o.info_len, len - 7);
    assert_null(o.session_state);

    /* Truncations: only "ends after warnings" and "ends after info" are
     * well-formed; everything else is malformed. */
    for (size_t n = 0; n < len; n++) {
        int want = (n == 7 || n == 8) ? 0 : CODEC_EINVAL;

        assert_int_equal(codec_ok_parse(pkt, n, CLIENT_SESSION_TRACK_F, &o), want);
    }
    /* Block length larger than what follows. */
    pkt[8] = 29;
    assert_int_equal(codec_ok_parse(pkt, len, CLIENT_SESSION_TRACK_F, &o), CODEC_EINVAL);
}

static void test_ok_session_track_info(void **state)
{
    /* Info present, no state change flag: trailing bytes are ignored. */
    static const uint8_t pkt[] = {0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00,
                                  0x05, 'h',  'e',  'l',  'l',  'o'};
    struct codec_ok o;

    (void)state;
    assert_int_equal(codec_ok_parse(pkt, sizeof(pkt), CLIENT_SESSION_TRACK_F, &o), 0);
    assert_int_equal(o.affected_rows, 2);
    ASSERT_STR(o.info, o.info_len, "hello");
    assert_null(o.session_state);
    /* Info length running past the packet. */
    assert_int_equal(codec_ok_parse(pkt, sizeof(pkt) - 1, CLIENT_SESSION_TRACK_F, &o),
                     CODEC_EINVAL);
}

static void test_track_malformed(void **state)
{
    static const uint8_t bad_len[] = {0x00, 0x05, 0x01, 'a'};
    static const uint8_t bad_sysvar[] = {0x03, 'a', 'b', 'c', 0x05, 'x'};
    static const uint8_t type_only[] = {0x01};
    struct codec_track_iter it;
    uint8_t type;
    const uint8_t *data, *name, *value;
    size_t data_len, name_len, value_len;

    (void)state;
    codec_track_iter_init(&it, bad_len, sizeof(bad_len));
    assert_int_equal(codec_track_next(&it, &type, &data, &data_len), CODEC_EINVAL);
    codec_track_iter_init(&it, type_only, sizeof(type_only));
    assert_int_equal(codec_track_next(&it, &type, &data, &data_len), CODEC_EINVAL);
    assert_int_equal(
        codec_track_sysvar(bad_sysvar, sizeof(bad_sysvar), &name, &name_len, &value, &value_len),
        CODEC_EINVAL);
    assert_int_equal(codec_track_schema(bad_sysvar, 2, &name, &name_len), CODEC_EINVAL);
    codec_track_iter_init(&it, NULL, 0);
    assert_int_equal(codec_track_next(&it, &type, &data, &data_len), 0);
}

static void test_err(void **state)
{
    static const uint8_t with_state[] = "\xff\x15\x04#28000Access denied for user 'bob'";
    static const uint8_t no_state[] = "\xff\x10\x04Too many connections";
    static const uint8_t short_state[] = "\xff\x15\x04#280";
    struct codec_err_pkt e;

    (void)state;
    assert_true(codec_is_err(with_state, sizeof(with_state) - 1));
    assert_int_equal(codec_err_parse(with_state, sizeof(with_state) - 1, &e), 0);
    assert_int_equal(e.code, 1045);
    assert_string_equal(e.sqlstate, "28000");
    ASSERT_STR(e.msg, e.msg_len, "Access denied for user 'bob'");

    assert_int_equal(codec_err_parse(no_state, sizeof(no_state) - 1, &e), 0);
    assert_int_equal(e.code, 1040);
    assert_string_equal(e.sqlstate, "HY000");
    ASSERT_STR(e.msg, e.msg_len, "Too many connections");

    assert_int_equal(codec_err_parse(short_state, sizeof(short_state) - 1, &e), CODEC_EINVAL);
    assert_int_equal(codec_err_parse(with_state, 2, &e), CODEC_EINVAL);
    assert_int_equal(codec_err_parse(with_state, 3, &e), 0);
    assert_int_equal(e.msg_len, 0);
    assert_int_equal(codec_err_parse(no_state + 1, 5, &e), CODEC_EINVAL);
    assert_false(codec_is_err(no_state, 0));
    assert_false(codec_is_err(with_state + 1, 3));
}

static void test_eof(void **state)
{
    static const uint8_t eof[] = {0xfe, 0x01, 0x00, 0x0a, 0x00};
    static const uint8_t ok_eof[] = {0xfe, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00};
    static const uint8_t long_fe[9] = {0xfe};
    struct codec_eof e;

    (void)state;
    assert_true(codec_is_eof(eof, sizeof(eof)));
    assert_int_equal(codec_eof_parse(eof, sizeof(eof), &e), 0);
    assert_int_equal(e.warnings, 1);
    assert_int_equal(e.status, SERVER_STATUS_AUTOCOMMIT_F | SERVER_MORE_RESULTS_EXISTS_F);
    /* A 7-byte OK-as-EOF also looks like an EOF: the caller decides. */
    assert_true(codec_is_eof(ok_eof, sizeof(ok_eof)));
    assert_false(codec_is_eof(long_fe, sizeof(long_fe)));
    assert_int_equal(codec_eof_parse(long_fe, sizeof(long_fe), &e), CODEC_EINVAL);
    assert_false(codec_is_eof(eof, 0));
    for (size_t n = 0; n < sizeof(eof); n++)
        assert_int_equal(codec_eof_parse(eof, n, &e), CODEC_EINVAL);
    assert_int_equal(codec_eof_parse(ok_eof + 1, 5, &e), CODEC_EINVAL);
}

/* ---- writers ---- */

static void test_write_ok_err_eof(void **state)
{
    struct codec_buf b;
    struct codec_ok o;
    struct codec_err_pkt e;
    char longmsg[600];

    (void)state;
    codec_buf_init(&b);
    assert_int_equal(codec_write_ok(&b, 1, 300, 7, SERVER_STATUS_AUTOCOMMIT_F, 2, NULL), 0);
    assert_bytes(b.data, b.len, "\x09\x00\x00\x01\x00\xfc\x2c\x01\x07\x02\x00\x02\x00", 13);
    assert_int_equal(codec_ok_parse(b.data + 4, b.len - 4, CLIENT_SESSION_TRACK_F, &o), 0);
    assert_int_equal(o.affected_rows, 300);
    assert_int_equal(o.last_insert_id, 7);

    codec_buf_reset(&b);
    /* Info is length-encoded as real servers send it (Connector/C reads
     * it so), with or without session tracking. */
    assert_int_equal(codec_write_ok(&b, 2, 0, 0, 0, 0, "hi"), 0);
    assert_bytes(b.data, b.len, "\x0a\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x02hi", 14);

    codec_buf_reset(&b);
    assert_int_equal(codec_write_ok_caps(&b, 2, CLIENT_SESSION_TRACK_F, 0, 0, 0, 0, "hi"), 0);
    assert_bytes(b.data, b.len, "\x0a\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x02hi", 14);
    assert_int_equal(codec_ok_parse(b.data + 4, b.len - 4, CLIENT_SESSION_TRACK_F, &o), 0);
    ASSERT_STR(o.info, o.info_len, "hi");
    codec_buf_reset(&b);
    assert_int_equal(codec_write_ok_caps(&b, 2, 0, 0, 0, 0, 0, "hi"), 0);
    assert_bytes(b.data, b.len, "\x0a\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x02hi", 14);

    codec_buf_reset(&b);
    assert_int_equal(codec_write_ok_eof(&b, 5, 0x0022, 1), 0);
    assert_bytes(b.data, b.len, "\x07\x00\x00\x05\xfe\x00\x00\x22\x00\x01\x00", 11);

    codec_buf_reset(&b);
    assert_int_equal(codec_write_eof(&b, 6, 0x0002, 3), 0);
    assert_bytes(b.data, b.len, "\x05\x00\x00\x06\xfe\x03\x00\x02\x00", 9);

    codec_buf_reset(&b);
    assert_int_equal(codec_write_err(&b, 1, 1045, "28000", "denied"), 0);
    assert_bytes(b.data, b.len, "\x0f\x00\x00\x01\xff\x15\x04#28000denied", 19);

    /* Bad SQLSTATE falls back to HY000; messages are capped at 512. */
    memset(longmsg, 'm', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    codec_buf_reset(&b);
    assert_int_equal(codec_write_err(&b, 0, 1105, "bad", longmsg), 0);
    assert_int_equal(b.len, 4 + 9 + 512);
    assert_int_equal(codec_err_parse(b.data + 4, b.len - 4, &e), 0);
    assert_string_equal(e.sqlstate, "HY000");
    assert_int_equal(e.code, 1105);
    assert_int_equal(e.msg_len, 512);
    codec_buf_reset(&b);
    assert_int_equal(codec_write_err(&b, 0, 1105, NULL, NULL), 0);
    assert_bytes(b.data, b.len, "\x09\x00\x00\x00\xff\x51\x04#HY000", 13);
    codec_buf_free(&b);
}

static void test_write_auth_switch(void **state)
{
    struct codec_buf b;

    (void)state;
    codec_buf_init(&b);
    assert_int_equal(codec_write_auth_switch(&b, 2, "mysql_native_password", scramble20), 0);
    assert_int_equal(b.len, 4 + 1 + 22 + 21);
    assert_memory_equal(b.data, "\x2c\x00\x00\x02\xfe", 5);
    assert_memory_equal(b.data + 5, "mysql_native_password\0", 22);
    assert_memory_equal(b.data + 27, scramble20, 20);
    assert_int_equal(b.data[47], 0);
    codec_buf_free(&b);
}

/* ---- handshake ---- */

static void test_write_handshake(void **state)
{
    const uint32_t caps = CLIENT_PROTOCOL_41_F | CLIENT_SECURE_CONNECTION_F | CLIENT_PLUGIN_AUTH_F |
                          CLIENT_DEPRECATE_EOF_F | CLIENT_LONG_PASSWORD_F;
    struct codec_buf b;
    struct codec_reader r;
    struct codec_header h;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    const uint8_t *p;
    size_t n;

    (void)state;
    codec_buf_init(&b);
    assert_int_equal(codec_write_handshake(&b, 0x01020304, "10.11.6-sluice", scramble20, caps, 33,
                                           SERVER_STATUS_AUTOCOMMIT_F, "mysql_native_password"),
                     0);
    assert_int_equal(codec_header_parse(b.data, b.len, &h), 0);
    assert_int_equal(h.seq, 0);
    assert_int_equal(h.len, b.len - 4);
    assert_int_equal(h.len, 1 + 15 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + 13 + 22);

    codec_reader_init(&r, b.data + 4, h.len);
    assert_int_equal(codec_read_u8(&r, &u8), 0);
    assert_int_equal(u8, 10);
    assert_int_equal(codec_read_nul_str(&r, &p, &n), 0);
    ASSERT_STR(p, n, "10.11.6-sluice");
    assert_int_equal(codec_read_u32(&r, &u32), 0);
    assert_int_equal(u32, 0x01020304);
    assert_int_equal(codec_read_bytes(&r, 8, &p), 0);
    assert_memory_equal(p, scramble20, 8);
    assert_int_equal(codec_read_u8(&r, &u8), 0);
    assert_int_equal(u8, 0);
    assert_int_equal(codec_read_u16(&r, &u16), 0);
    assert_int_equal(u16, caps & 0xffff);
    assert_int_equal(codec_read_u8(&r, &u8), 0);
    assert_int_equal(u8, 33);
    assert_int_equal(codec_read_u16(&r, &u16), 0);
    assert_int_equal(u16, SERVER_STATUS_AUTOCOMMIT_F);
    assert_int_equal(codec_read_u16(&r, &u16), 0);
    assert_int_equal(u16, caps >> 16);
    assert_int_equal(codec_read_u8(&r, &u8), 0);
    assert_int_equal(u8, 21);
    assert_int_equal(codec_read_bytes(&r, 10, &p), 0);
    assert_memory_equal(p, "\0\0\0\0\0\0\0\0\0\0", 10);
    assert_int_equal(codec_read_bytes(&r, 13, &p), 0);
    assert_memory_equal(p, scramble20 + 8, 12);
    assert_int_equal(p[12], 0);
    assert_int_equal(codec_read_nul_str(&r, &p, &n), 0);
    ASSERT_STR(p, n, "mysql_native_password");
    assert_int_equal(codec_reader_left(&r), 0);
    assert_int_equal(codec_message_span(b.data, b.len, NULL), (long)b.len);
    codec_buf_free(&b);
}

/* Builds a HandshakeResponse41 payload; NULL db/plugin leaves them out. */
static void build_response(struct codec_buf *b, uint32_t caps, const char *user,
                           const uint8_t *auth, size_t auth_len, const char *db, const char *plugin,
                           bool attrs)
{
    static const uint8_t filler[23];

    codec_buf_reset(b);
    assert_int_equal(codec_buf_u32(b, caps), 0);
    assert_int_equal(codec_buf_u32(b, 16777216), 0);
    assert_int_equal(codec_buf_u8(b, 45), 0);
    assert_int_equal(codec_buf_append(b, filler, sizeof(filler)), 0);
    if (!user)
        return;
    assert_int_equal(codec_buf_nul_str(b, user), 0);
    if (caps & CLIENT_PLUGIN_AUTH_LENENC_F) {
        assert_int_equal(codec_buf_lenenc_str(b, auth, auth_len), 0);
    } else if (caps & CLIENT_SECURE_CONNECTION_F) {
        assert_int_equal(codec_buf_u8(b, (uint8_t)auth_len), 0);
        assert_int_equal(codec_buf_append(b, auth, auth_len), 0);
    } else {
        assert_int_equal(codec_buf_append(b, auth, auth_len), 0);
        assert_int_equal(codec_buf_u8(b, 0), 0);
    }
    if (db)
        assert_int_equal(codec_buf_nul_str(b, db), 0);
    if (plugin)
        assert_int_equal(codec_buf_nul_str(b, plugin), 0);
    if (attrs)
        assert_int_equal(codec_buf_lenenc_str(b,
                                              "\x04_pid\x03"
                                              "123",
                                              9),
                         0);
}

struct hs_case {
    const char *what;
    uint32_t caps;
    const char *user; /* NULL: SSLRequest */
    size_t auth_len;
    const char *db;
    const char *plugin;
    bool attrs;
};

#define BASE_CAPS (CLIENT_PROTOCOL_41_F | CLIENT_SECURE_CONNECTION_F | CLIENT_LONG_PASSWORD_F)

static const struct hs_case hs_cases[] = {
    {"full", BASE_CAPS | CLIENT_CONNECT_WITH_DB_F | CLIENT_PLUGIN_AUTH_F | CLIENT_CONNECT_ATTRS_F,
     "app", 20, "shop", "mysql_native_password", true},
    {"no db", BASE_CAPS | CLIENT_PLUGIN_AUTH_F, "app", 20, NULL, "mysql_native_password", false},
    {"no plugin", BASE_CAPS | CLIENT_CONNECT_WITH_DB_F, "app", 20, "shop", NULL, false},
    {"db flag, field missing", BASE_CAPS | CLIENT_CONNECT_WITH_DB_F, "app", 20, NULL, NULL, false},
    {"plugin flag, field missing", BASE_CAPS | CLIENT_PLUGIN_AUTH_F, "app", 20, NULL, NULL, false},
    {"lenenc auth", BASE_CAPS | CLIENT_PLUGIN_AUTH_LENENC_F | CLIENT_PLUGIN_AUTH_F, "u", 20, NULL,
     "mysql_native_password", false},
    {"empty password", BASE_CAPS | CLIENT_PLUGIN_AUTH_F, "root", 0, NULL, "mysql_native_password",
     false},
    {"nul-terminated auth", CLIENT_PROTOCOL_41_F, "old", 8, NULL, NULL, false},
    {"empty db", BASE_CAPS | CLIENT_CONNECT_WITH_DB_F, "app", 20, "", NULL, false},
};

static void test_handshake_response(void **state)
{
    struct codec_buf b;

    (void)state;
    codec_buf_init(&b);
    for (size_t i = 0; i < ARRAY_LEN(hs_cases); i++) {
        const struct hs_case *c = &hs_cases[i];
        struct codec_handshake_response hr;
        /* Auth bytes avoid NUL so the NUL-terminated form stays valid. */
        const uint8_t *auth = scramble20;

        print_message("case: %s\n", c->what);
        build_response(&b, c->caps, c->user, auth, c->auth_len, c->db, c->plugin, c->attrs);
        assert_int_equal(codec_handshake_response_parse(b.data, b.len, &hr), 0);
        assert_int_equal(hr.caps, c->caps);
        assert_int_equal(hr.max_packet, 16777216);
        assert_int_equal(hr.charset, 45);
        assert_bytes(hr.user, hr.user_len, c->user, strlen(c->user));
        assert_int_equal(hr.auth_len, c->auth_len);
        assert_memory_equal(hr.auth, auth, c->auth_len);
        if (c->db) {
            assert_non_null(hr.db);
            assert_bytes(hr.db, hr.db_len, c->db, strlen(c->db));
        } else {
            assert_null(hr.db);
            assert_int_equal(hr.db_len, 0);
        }
        if (c->plugin) {
            assert_non_null(hr.plugin);
            assert_bytes(hr.plugin, hr.plugin_len, c->plugin, strlen(c->plugin));
        } else {
            assert_null(hr.plugin);
        }
    }
    codec_buf_free(&b);
}

static void test_handshake_response_bad(void **state)
{
    struct codec_buf b;
    struct codec_handshake_response hr;
    const uint32_t caps = BASE_CAPS | CLIENT_CONNECT_WITH_DB_F | CLIENT_PLUGIN_AUTH_F;
    size_t user_end;

    (void)state;
    codec_buf_init(&b);

    /* SSLRequest: exactly 32 bytes with CLIENT_SSL. */
    build_response(&b, BASE_CAPS | CLIENT_SSL_F, NULL, NULL, 0, NULL, NULL, false);
    assert_int_equal(b.len, 32);
    assert_int_equal(codec_handshake_response_parse(b.data, b.len, &hr), 0);
    assert_null(hr.user);
    assert_int_equal(hr.caps, BASE_CAPS | CLIENT_SSL_F);
    assert_int_equal(hr.charset, 45);
    /* 32 bytes without CLIENT_SSL is not a response at all. */
    build_response(&b, BASE_CAPS, NULL, NULL, 0, NULL, NULL, false);
    assert_int_equal(codec_handshake_response_parse(b.data, b.len, &hr), CODEC_EINVAL);

    /* Pre-4.1 client. */
    build_response(&b, CLIENT_SECURE_CONNECTION_F, "x", scramble20, 20, NULL, NULL, false);
    assert_int_equal(codec_handshake_response_parse(b.data, b.len, &hr), CODEC_EINVAL);

    /* Every truncation inside the fixed part, user or auth is malformed,
     * and so is one that cuts db or plugin before its NUL. */
    build_response(&b, caps, "app", scramble20, 20, "shop", "mysql_native_password", false);
    user_end = 32 + 4;
    for (size_t n = 0; n < b.len; n++) {
        int rc = codec_handshake_response_parse(b.data, n, &hr);
        bool ok = n == 32 + 4 + 21 || n == 32 + 4 + 21 + 5;

        assert_int_equal(rc, ok ? 0 : CODEC_EINVAL);
        if (rc < 0)
            assert_null(hr.user);
    }

    /* Auth length byte pointing past the end. */
    b.data[user_end] = 200;
    assert_int_equal(codec_handshake_response_parse(b.data, b.len, &hr), CODEC_EINVAL);
    /* User without a NUL. */
    build_response(&b, BASE_CAPS, "app", NULL, 0, NULL, NULL, false);
    assert_int_equal(codec_handshake_response_parse(b.data, b.len - 2, &hr), CODEC_EINVAL);
    codec_buf_free(&b);
}

/* ---- error codes ---- */

static void test_error_codes(void **state)
{
    static const int codes[] = {
        0, CODEC_EAGAIN, CODEC_EINVAL, CODEC_ENOSPACE, CODEC_ENOMEM, CODEC_ETOOBIG};
    struct codec_buf b;
    struct codec_resultset rs;
    struct codec_handshake_response hr;
    uint8_t seq = 7;
    char *name;
    const char *names[1];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(codes); i++) {
        const char *msg = codec_strerror(codes[i]);

        assert_non_null(msg);
        assert_true(msg[0] != '\0');
        assert_string_not_equal(msg, "unknown codec error");
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(msg, codec_strerror(codes[k]));
    }
    assert_string_equal(codec_strerror(-100), "unknown codec error");
    assert_string_equal(codec_strerror(1), "unknown codec error");

    /* Sizes past SIZE_MAX are refused before anything is allocated. */
    codec_buf_init(&b);
    assert_int_equal(codec_buf_append(&b, "ab", 2), 0);
    assert_int_equal(codec_buf_reserve(&b, SIZE_MAX), CODEC_ETOOBIG);
    assert_int_equal(codec_buf_reserve(&b, SIZE_MAX - 1), CODEC_ETOOBIG);
    assert_int_equal(codec_buf_append_packets(&b, (const uint8_t *)"", SIZE_MAX - 8, &seq),
                     CODEC_ETOOBIG);
    assert_int_equal(seq, 7);
    assert_int_equal(b.len, 2);

    /* A column name that its 2-byte length cannot hold. */
    name = malloc(0x10000 + 1);
    assert_non_null(name);
    memset(name, 'c', 0x10000);
    name[0x10000] = '\0';
    names[0] = name;
    assert_int_equal(codec_rs_begin(&rs, &b, 1, 0, 0, 1, names), CODEC_ETOOBIG);
    assert_int_equal(b.len, 2);
    free(name);

    /* A handshake response cut inside its fixed part. */
    codec_buf_reset(&b);
    assert_int_equal(codec_buf_u32(&b, CLIENT_PROTOCOL_41_F), 0);
    assert_int_equal(codec_handshake_response_parse(b.data, b.len, &hr), CODEC_EINVAL);
    codec_buf_free(&b);
}

/* ---- COM_CHANGE_USER ---- */

static void test_change_user(void **state)
{
    static const uint8_t full[] = "bob\0\x04\x01\x02\x03\x04shop\0\x21\x00mysql_native_password\0"
                                  "\x05\x04_pid\x00";
    static const uint8_t minimal[] = "bob\0\x00";
    static const uint8_t no_plugin[] = "bob\0\x00shop\0\x08\x00";
    static const uint8_t old_auth[] = "bob\0abc\0db\0";
    const uint32_t caps = CLIENT_PROTOCOL_41_F | CLIENT_SECURE_CONNECTION_F | CLIENT_PLUGIN_AUTH_F;
    struct codec_change_user cu;

    (void)state;
    assert_int_equal(codec_change_user_parse(full, sizeof(full) - 1, caps, &cu), 0);
    ASSERT_STR(cu.user, cu.user_len, "bob");
    ASSERT_STR(cu.auth, cu.auth_len, "\x01\x02\x03\x04");
    ASSERT_STR(cu.db, cu.db_len, "shop");
    assert_int_equal(cu.charset, 33);
    ASSERT_STR(cu.plugin, cu.plugin_len, "mysql_native_password");

    /* Without CLIENT_PLUGIN_AUTH the plugin name is not looked for. */
    assert_int_equal(codec_change_user_parse(full, sizeof(full) - 1, BASE_CAPS, &cu), 0);
    assert_null(cu.plugin);
    assert_int_equal(cu.charset, 33);

    assert_int_equal(codec_change_user_parse(minimal, sizeof(minimal) - 1, caps, &cu), 0);
    ASSERT_STR(cu.user, cu.user_len, "bob");
    assert_int_equal(cu.auth_len, 0);
    assert_null(cu.db);
    assert_int_equal(cu.charset, 0);
    assert_null(cu.plugin);

    assert_int_equal(codec_change_user_parse(no_plugin, sizeof(no_plugin) - 1, caps, &cu), 0);
    ASSERT_STR(cu.db, cu.db_len, "shop");
    assert_int_equal(cu.charset, 8);
    assert_null(cu.plugin);

    assert_int_equal(
        codec_change_user_parse(old_auth, sizeof(old_auth) - 1, CLIENT_PROTOCOL_41_F, &cu), 0);
    ASSERT_STR(cu.auth, cu.auth_len, "abc");
    ASSERT_STR(cu.db, cu.db_len, "db");

    /* Truncations: valid only at the optional-part boundaries. */
    for (size_t n = 0; n < sizeof(full) - 1; n++) {
        bool ok = n == 9 || n == 14 || n == 16 || n >= 38; /* attrs are skipped */
        int rc = codec_change_user_parse(full, n, caps, &cu);

        assert_int_equal(rc, ok ? 0 : CODEC_EINVAL);
    }
}

/* ---- result sets ---- */

/* Pops the next packet off (*p, *len), checking its sequence id. */
static const uint8_t *next_packet(const uint8_t **p, size_t *len, uint8_t want_seq,
                                  size_t *payload_len)
{
    struct codec_header h;
    const uint8_t *payload;

    assert_int_equal(codec_header_parse(*p, *len, &h), 0);
    assert_int_equal(h.seq, want_seq);
    assert_true(*len >= 4 + h.len);
    payload = *p + 4;
    *payload_len = h.len;
    *p += 4 + h.len;
    *len -= 4 + h.len;
    return payload;
}

static void check_column_def(const uint8_t *d, size_t len, const char *name)
{
    struct codec_reader r;
    const uint8_t *s;
    size_t n;
    uint64_t v;
    uint16_t u16;
    uint32_t u32;
    uint8_t u8;

    codec_reader_init(&r, d, len);
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), 0);
    ASSERT_STR(s, n, "def");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(codec_read_lenenc_str(&r, &s, &n), 0);
        assert_int_equal(n, 0);
    }
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), 0);
    assert_bytes(s, n, name, strlen(name));
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), 0);
    assert_bytes(s, n, name, strlen(name));
    assert_int_equal(codec_read_lenenc(&r, &v, NULL), 0);
    assert_int_equal(v, 0x0c);
    assert_int_equal(codec_read_u16(&r, &u16), 0);
    assert_int_equal(u16, 33);
    assert_int_equal(codec_read_u32(&r, &u32), 0);
    assert_int_equal(u32, 1024);
    assert_int_equal(codec_read_u8(&r, &u8), 0);
    assert_int_equal(u8, 0xfd);
    assert_int_equal(codec_read_u16(&r, &u16), 0);
    assert_int_equal(u16, 0);
    assert_int_equal(codec_read_u8(&r, &u8), 0);
    assert_int_equal(u8, 0);
    assert_int_equal(codec_read_u16(&r, &u16), 0);
    assert_int_equal(u16, 0);
    assert_int_equal(codec_reader_left(&r), 0);
}

static void check_resultset(uint32_t caps)
{
    static const char *const names[] = {"Variable_name", "Value"};
    static const char *const row1[] = {"version_comment", "Sluice"};
    static const char *const row2[] = {"empty", NULL};
    const bool deprecate = (caps & CLIENT_DEPRECATE_EOF_F) != 0;
    struct codec_buf b;
    struct codec_resultset rs;
    const uint8_t *p, *d, *s;
    size_t len, n;
    uint8_t seq = 1;
    struct codec_eof eof;
    struct codec_ok ok;
    struct codec_reader r;
    uint64_t v;
    bool is_null;

    codec_buf_init(&b);
    assert_int_equal(codec_rs_begin(&rs, &b, 1, caps, SERVER_STATUS_AUTOCOMMIT_F, 2, names), 0);
    assert_int_equal(codec_rs_row(&rs, 2, row1), 0);
    assert_int_equal(codec_rs_row(&rs, 2, row2), 0);
    assert_int_equal(codec_rs_end(&rs), 0);
    assert_int_equal(rs.seq, deprecate ? 7 : 8);

    p = b.data;
    len = b.len;
    d = next_packet(&p, &len, seq++, &n);
    assert_bytes(d, n, "\x02", 1);
    d = next_packet(&p, &len, seq++, &n);
    check_column_def(d, n, "Variable_name");
    d = next_packet(&p, &len, seq++, &n);
    check_column_def(d, n, "Value");
    if (!deprecate) {
        d = next_packet(&p, &len, seq++, &n);
        assert_int_equal(codec_eof_parse(d, n, &eof), 0);
        assert_int_equal(eof.status, SERVER_STATUS_AUTOCOMMIT_F);
        assert_int_equal(eof.warnings, 0);
    }
    d = next_packet(&p, &len, seq++, &n);
    assert_bytes(d, n, "\x0fversion_comment\x06Sluice", 23);
    d = next_packet(&p, &len, seq++, &n);
    codec_reader_init(&r, d, n);
    assert_int_equal(codec_read_lenenc_str(&r, &s, &n), 0);
    ASSERT_STR(s, n, "empty");
    assert_int_equal(codec_read_lenenc(&r, &v, &is_null), 0);
    assert_true(is_null);
    assert_int_equal(codec_reader_left(&r), 0);
    d = next_packet(&p, &len, seq++, &n);
    if (deprecate) {
        assert_int_equal(n, 7);
        assert_int_equal(d[0], 0xfe);
        assert_int_equal(codec_ok_parse(d, n, caps, &ok), 0);
        assert_int_equal(ok.status, SERVER_STATUS_AUTOCOMMIT_F);
    } else {
        assert_int_equal(n, 5);
        assert_int_equal(codec_eof_parse(d, n, &eof), 0);
        assert_int_equal(eof.status, SERVER_STATUS_AUTOCOMMIT_F);
    }
    assert_int_equal(len, 0);
    codec_buf_free(&b);
}

static void test_resultset(void **state)
{
    (void)state;
    check_resultset(CLIENT_PROTOCOL_41_F);
    check_resultset(CLIENT_PROTOCOL_41_F | CLIENT_DEPRECATE_EOF_F);
}

static void test_resultset_errors_and_big_row(void **state)
{
    static const char *const names[] = {"a"};
    static const char *const null_name[] = {NULL};
    struct codec_buf b;
    struct codec_resultset rs;
    char *big;
    const char *vals[1];
    size_t before, vlen = CODEC_MAX_PAYLOAD + 100;
    unsigned npk = 0;
    struct codec_header h;

    (void)state;
    codec_buf_init(&b);
    assert_int_equal(codec_rs_begin(&rs, &b, 1, 0, 0, 0, names), CODEC_EINVAL);
    assert_int_equal(codec_rs_begin(&rs, &b, 1, 0, 0, 1, null_name), CODEC_EINVAL);
    assert_int_equal(b.len, 0);

    /* A row longer than one packet is split; the next packet's sequence
     * id follows on. */
    assert_int_equal(codec_rs_begin(&rs, &b, 1, CLIENT_DEPRECATE_EOF_F, 0, 1, names), 0);
    assert_int_equal(rs.seq, 3);
    big = malloc(vlen + 1);
    assert_non_null(big);
    memset(big, 'z', vlen);
    big[vlen] = '\0';
    vals[0] = big;
    before = b.len;
    assert_int_equal(codec_rs_row(&rs, 1, vals), 0);
    assert_int_equal(rs.seq, 5);
    assert_int_equal(codec_message_span(b.data + before, b.len - before, &npk),
                     (long)(b.len - before));
    assert_int_equal(npk, 2);
    assert_int_equal(codec_header_parse(b.data + before, 4, &h), 0);
    assert_int_equal(h.len, CODEC_MAX_PAYLOAD);
    assert_int_equal(h.seq, 3);
    assert_memory_equal(b.data + before + 4, "\xfe\x63\x00\x00\x01\x00\x00\x00\x00zzz", 12);
    assert_int_equal(codec_header_parse(b.data + before + 4 + CODEC_MAX_PAYLOAD, 4, &h), 0);
    assert_int_equal(h.len, 9 + vlen - CODEC_MAX_PAYLOAD);
    assert_int_equal(h.seq, 4);
    assert_int_equal(b.data[b.len - 1], 'z');
    assert_int_equal(b.len - before, 8 + 9 + vlen);
    assert_int_equal(codec_rs_end(&rs), 0);
    assert_int_equal(rs.seq, 6);
    free(big);
    codec_buf_free(&b);
}

/* ---- SHA-1 and native password ---- */

static void hex(const uint8_t *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

struct sha1_case {
    const char *msg;
    const char *digest;
};

static const struct sha1_case sha1_cases[] = {
    {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnop"
     "qrsmnopqrstnopqrstu",
     "a49b2446a02c645bf419f995b67091253a04a259"},
    {"The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
};

static void test_sha1(void **state)
{
    uint8_t d[20];
    char h[41];
    char *million;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(sha1_cases); i++) {
        codec_sha1(sha1_cases[i].msg, strlen(sha1_cases[i].msg), d);
        hex(d, 20, h);
        assert_string_equal(h, sha1_cases[i].digest);
    }
    million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    codec_sha1(million, 1000000, d);
    hex(d, 20, h);
    assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(million);

    /* Lengths around the padding boundary (55, 56, 63, 64 bytes). */
    {
        static const char *const want[] = {
            "c1c8bbdc22796e28c0e15163d20899b65621d65a", /* 55 x 'a' */
            "c2db330f6083854c99d4b5bfb6e8f29f201be699", /* 56 */
            "03f09f5b158a7a8cdad920bddc29b81c18a551f5", /* 63 */
            "0098ba824b5c16427bd7a1122a5a442a25ec644d", /* 64 */
        };
        static const size_t lens[] = {55, 56, 63, 64};
        char a[64];

        memset(a, 'a', sizeof(a));
        for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
            codec_sha1(a, lens[i], d);
            hex(d, 20, h);
            assert_string_equal(h, want[i]);
        }
    }
}

static void test_native_hash(void **state)
{
    static const char stored[] = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19";
    uint8_t want[20], got[20], keep[20];
    char h[41];

    (void)state;
    codec_native_hash("password", 8, got);
    hex(got, 20, h);
    assert_string_equal(h, "2470c0c06dee42fd1618bb99005adca2ec9d1e19");
    assert_int_equal(codec_native_hash_parse(stored, sizeof(stored) - 1, want), 0);
    assert_memory_equal(want, got, 20);
    assert_int_equal(codec_native_hash_parse("*2470c0c06dee42fd1618bb99005adca2ec9d1e19", 41, got),
                     0);
    assert_memory_equal(want, got, 20);

    memcpy(keep, got, 20);
    assert_int_equal(codec_native_hash_parse(stored, 40, got), CODEC_EINVAL);
    assert_int_equal(codec_native_hash_parse(stored + 1, 40, got), CODEC_EINVAL);
    assert_int_equal(codec_native_hash_parse("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1G", 41, got),
                     CODEC_EINVAL);
    assert_int_equal(codec_native_hash_parse("", 0, got), CODEC_EINVAL);
    assert_memory_equal(keep, got, 20);
}

static void test_native_verify(void **state)
{
    static const uint8_t zero[20];
    uint8_t stored[20], token[20], other[20];

    (void)state;
    codec_native_hash("password", 8, stored);
    codec_native_token("password", 8, scramble20, token);
    assert_true(codec_native_verify(stored, true, scramble20, token, 20));

    /* Wrong password, wrong scramble, flipped bit, wrong length. */
    codec_native_token("passwore", 8, scramble20, other);
    assert_false(codec_native_verify(stored, true, scramble20, other, 20));
    codec_native_token("password", 8, zero, other);
    assert_false(codec_native_verify(stored, true, scramble20, other, 20));
    assert_true(codec_native_verify(stored, true, zero, other, 20));
    memcpy(other, token, 20);
    other[19] ^= 1;
    assert_false(codec_native_verify(stored, true, scramble20, other, 20));
    assert_false(codec_native_verify(stored, true, scramble20, token, 19));
    assert_false(codec_native_verify(stored, true, scramble20, token, 0));

    /* Empty password: only an empty token is accepted. */
    assert_true(codec_native_verify(zero, false, scramble20, NULL, 0));
    assert_false(codec_native_verify(zero, false, scramble20, token, 20));
}

static void test_native_token_vector(void **state)
{
    /* Computed with Python's hashlib: SHA1("password") XOR
     * SHA1(scramble20 || SHA1(SHA1("password"))). */
    uint8_t token[20];
    char h[41];

    (void)state;
    codec_native_token("password", 8, scramble20, token);
    hex(token, 20, h);
    assert_string_equal(h, "c17d6009a5cb47e59f7483fcf05553bbbf7dd0d6");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_le_ints),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_reader_fixed),
        cmocka_unit_test(test_lenenc_roundtrip),
        cmocka_unit_test(test_lenenc_markers),
        cmocka_unit_test(test_lenenc_str),
        cmocka_unit_test(test_nul_str),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_split_packets),
        cmocka_unit_test(test_message_span_small),
        cmocka_unit_test(test_ok_plain),
        cmocka_unit_test(test_ok_session_track),
        cmocka_unit_test(test_ok_session_track_info),
        cmocka_unit_test(test_track_malformed),
        cmocka_unit_test(test_err),
        cmocka_unit_test(test_eof),
        cmocka_unit_test(test_write_ok_err_eof),
        cmocka_unit_test(test_write_auth_switch),
        cmocka_unit_test(test_write_handshake),
        cmocka_unit_test(test_handshake_response),
        cmocka_unit_test(test_handshake_response_bad),
        cmocka_unit_test(test_change_user),
        cmocka_unit_test(test_resultset),
        cmocka_unit_test(test_resultset_errors_and_big_row),
        cmocka_unit_test(test_sha1),
        cmocka_unit_test(test_message_announced),
        cmocka_unit_test(test_message_announced_chain),
        cmocka_unit_test(test_native_hash),
        cmocka_unit_test(test_native_verify),
        cmocka_unit_test(test_native_token_vector),
        cmocka_unit_test(test_error_codes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
