/*
 * libFuzzer target for the MySQL wire codec (codec/codec.c).
 *
 * The first input byte picks a parser (modulo the number of modes), the rest
 * is its input. Besides what ASan and UBSan catch, each mode checks the
 * codec's own promises where that is cheap: every pointer a parser returns
 * lies inside the input, a failed read leaves the reader's cursor alone,
 * codec_message_span() never claims more bytes than it was given, and what
 * the writers encode parses back to the same values.
 *
 * Modes (seeds in corpus/codec/ begin with the mode byte):
 *   0 handshake response        1 COM_CHANGE_USER (4 bytes of caps first)
 *   2 OK packet (4 bytes of caps first) and its session-state entries
 *   3 ERR packet                4 EOF packet
 *   5 codec_message_span        6 a reader driven by the input
 *   7 native hash text          8 OK/ERR/result-set writers, parsed back
 */
#include "codec/codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An invariant broke: abort, so libFuzzer saves the input as a crash. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* (p, n) is NULL and empty, or lies within (base, len). */
static void check_span(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
    if (!p) {
        CHECK(n == 0);
        return;
    }
    CHECK(p >= base && (size_t)(p - base) <= len && n <= len - (size_t)(p - base));
}

static uint32_t take_u32(const uint8_t **data, size_t *size)
{
    uint32_t v = 0;

    if (*size >= 4) {
        v = codec_u32(*data);
        *data += 4;
        *size -= 4;
    }
    return v;
}

static void fuzz_handshake(const uint8_t *d, size_t n)
{
    struct codec_handshake_response hr;

    if (codec_handshake_response_parse(d, n, &hr) != 0) {
        CHECK(!hr.user && !hr.auth && !hr.db && !hr.plugin);
        return;
    }
    CHECK(hr.caps & CLIENT_PROTOCOL_41_F);
    check_span(hr.user, hr.user_len, d, n);
    check_span(hr.auth, hr.auth_len, d, n);
    check_span(hr.db, hr.db_len, d, n);
    check_span(hr.plugin, hr.plugin_len, d, n);
    /* NUL-terminated fields end at a NUL inside the input. */
    if (hr.user)
        CHECK(hr.user + hr.user_len < d + n && hr.user[hr.user_len] == 0);
    else
        CHECK(n == 32 && (hr.caps & CLIENT_SSL_F));
}

static void fuzz_change_user(const uint8_t *d, size_t n)
{
    uint32_t caps = take_u32(&d, &n);
    struct codec_change_user cu;

    if (codec_change_user_parse(d, n, caps, &cu) != 0) {
        CHECK(!cu.user && !cu.auth && !cu.db && !cu.plugin);
        return;
    }
    check_span(cu.user, cu.user_len, d, n);
    check_span(cu.auth, cu.auth_len, d, n);
    check_span(cu.db, cu.db_len, d, n);
    check_span(cu.plugin, cu.plugin_len, d, n);
}

/* Walks a session-state block as backend.c's apply_tracking() does. */
static void walk_tracking(const uint8_t *block, size_t len)
{
    struct codec_track_iter it;
    uint8_t type;
    const uint8_t *data, *name, *value;
    size_t dlen, nlen, vlen;
    int rc;

    codec_track_iter_init(&it, block, len);
    while ((rc = codec_track_next(&it, &type, &data, &dlen)) == 1) {
        check_span(data, dlen, block, len);
        if (codec_track_sysvar(data, dlen, &name, &nlen, &value, &vlen) == 0) {
            check_span(name, nlen, data, dlen);
            check_span(value, vlen, data, dlen);
        }
        if (codec_track_schema(data, dlen, &name, &nlen) == 0)
            check_span(name, nlen, data, dlen);
    }
    /* A malformed entry stops the walk and stays where it was. */
    CHECK(rc == 0 || (rc == CODEC_EINVAL && it.r.pos < len));
}

static void fuzz_ok(const uint8_t *d, size_t n)
{
    uint32_t caps = take_u32(&d, &n);
    struct codec_ok ok;

    if (codec_ok_parse(d, n, caps, &ok) != 0)
        return;
    CHECK(n >= 1 && (d[0] == CODEC_OK || d[0] == CODEC_EOF));
    check_span(ok.info, ok.info_len, d, n);
    check_span(ok.session_state, ok.session_state_len, d, n);
    if (ok.session_state_len)
        CHECK((caps & CLIENT_SESSION_TRACK_F) && (ok.status & SERVER_SESSION_STATE_CHANGED_F));
    walk_tracking(ok.session_state, ok.session_state_len);
}

static void fuzz_err(const uint8_t *d, size_t n)
{
    struct codec_err_pkt e;

    if (codec_err_parse(d, n, &e) != 0)
        return;
    CHECK(codec_is_err(d, n));
    /* The five bytes are the server's, NULs included: only the terminator
     * is promised (codec_write_err falls back to HY000 on a short one). */
    CHECK(e.sqlstate[5] == '\0');
    check_span(e.msg, e.msg_len, d, n);
}

static void fuzz_eof(const uint8_t *d, size_t n)
{
    struct codec_eof eof;
    bool is_eof = codec_is_eof(d, n);

    CHECK(!(is_eof && codec_is_err(d, n)));
    if (codec_eof_parse(d, n, &eof) == 0)
        CHECK(is_eof && n >= 5);
}

static void fuzz_span(const uint8_t *d, size_t n)
{
    unsigned npackets = 0;
    long span = codec_message_span(d, n, &npackets);
    struct codec_header h;
    size_t pos = 0;

    if (codec_header_parse(d, n, &h) != 0) {
        CHECK(n < CODEC_HEADER_LEN && span == CODEC_EAGAIN);
        return;
    }
    if (span < 0) {
        CHECK(span == CODEC_EAGAIN);
        return;
    }
    CHECK((size_t)span <= n && npackets >= 1);
    /* The span is npackets whole packets, each but the last full. */
    for (unsigned i = 0; i < npackets; i++) {
        uint32_t plen;

        CHECK(n - pos >= CODEC_HEADER_LEN);
        plen = codec_u24(d + pos);
        CHECK((plen == CODEC_MAX_PAYLOAD) == (i + 1 < npackets));
        pos += CODEC_HEADER_LEN + plen;
    }
    CHECK(pos == (size_t)span);
}

/* One read chosen by op on r; checks the cursor rules of codec.h. */
static void reader_step(struct codec_reader *r, uint8_t op)
{
    size_t before = r->pos;
    const uint8_t *s = NULL;
    size_t n = 0;
    uint64_t v;
    bool is_null;
    uint32_t u32;
    uint16_t u16;
    uint8_t u8;
    int rc;

    switch (op % 9) {
    case 0:
        rc = codec_read_u8(r, &u8);
        break;
    case 1:
        rc = codec_read_u16(r, &u16);
        break;
    case 2:
        rc = codec_read_u24(r, &u32);
        break;
    case 3:
        rc = codec_read_u32(r, &u32);
        break;
    case 4:
        rc = codec_read_bytes(r, op >> 4, &s);
        n = op >> 4;
        break;
    case 5:
        rc = codec_read_lenenc(r, &v, (op & 0x10) ? &is_null : NULL);
        /* Encoding the value again takes as many bytes, unless it was NULL
         * or a non-minimal encoding (which servers do not send, but may). */
        if (rc == 0 && !((op & 0x10) && is_null))
            CHECK(codec_lenenc_size(v) <= r->pos - before);
        break;
    case 6:
        rc = codec_read_lenenc_str(r, &s, &n);
        break;
    case 7:
        rc = codec_read_nul_str(r, &s, &n);
        if (rc == 0)
            CHECK(s[n] == 0);
        break;
    default:
        codec_read_rest(r, &s, &n);
        rc = 0;
        break;
    }
    CHECK(r->pos <= r->len);
    if (rc != 0) {
        CHECK(rc == CODEC_EINVAL && r->pos == before);
        return;
    }
    CHECK(r->pos > before || r->pos == r->len || op % 9 == 4);
    if (s)
        check_span(s, n, r->p, r->len);
}

/* The first half of the input drives reads over the second half. */
static void fuzz_reader(const uint8_t *d, size_t n)
{
    size_t nops = n / 2;
    struct codec_reader r;

    codec_reader_init(&r, d + nops, n - nops);
    for (size_t i = 0; i < nops; i++)
        reader_step(&r, d[i]);
    CHECK(codec_reader_left(&r) == r.len - r.pos);
}

/* The input is a stored hash's text, or a password and a scramble. */
static void fuzz_native_hash(const uint8_t *d, size_t n)
{
    uint8_t hash[20], scramble[20] = {0}, token[20];
    char *text = malloc(n + 1);
    size_t slen = n < sizeof(scramble) ? n : sizeof(scramble);

    if (!text)
        return;
    memcpy(text, d, n);
    text[n] = '\0';
    if (codec_native_hash_parse(text, n, hash) == 0)
        CHECK(n == 41 && text[0] == '*');
    memcpy(scramble, d, slen);
    codec_native_hash(text + slen, n - slen, hash);
    codec_native_token(text + slen, n - slen, scramble, token);
    CHECK(codec_native_verify(hash, true, scramble, token, sizeof(token)));
    token[(n ? d[0] : 0) % 20] ^= 1;
    CHECK(!codec_native_verify(hash, true, scramble, token, sizeof(token)));
    free(text);
}

/* A NUL-terminated copy of up to max bytes of d, without inner NULs. */
static char *cstr(const uint8_t *d, size_t n, size_t max)
{
    size_t len = n < max ? n : max;
    char *s = malloc(len + 1);

    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++)
        s[i] = d[i] ? (char)d[i] : ' ';
    s[len] = '\0';
    return s;
}

static void roundtrip_ok(struct codec_buf *b, uint64_t affected, uint64_t last_id, uint16_t status,
                         const char *info)
{
    struct codec_ok ok;
    long span;

    codec_buf_reset(b);
    CHECK(codec_write_ok_caps(b, 1, CLIENT_SESSION_TRACK_F, affected, last_id, status, 0, info) ==
          0);
    span = codec_message_span(b->data, b->len, NULL);
    CHECK(span > 0 && (size_t)span == b->len);
    /* Without SESSION_STATE_CHANGED no state block is looked for. */
    status &= (uint16_t)~SERVER_SESSION_STATE_CHANGED_F;
    codec_buf_reset(b);
    CHECK(codec_write_ok_caps(b, 1, CLIENT_SESSION_TRACK_F, affected, last_id, status, 0, info) ==
          0);
    CHECK(codec_ok_parse(b->data + 4, b->len - 4, CLIENT_SESSION_TRACK_F, &ok) == 0);
    CHECK(ok.affected_rows == affected && ok.last_insert_id == last_id && ok.status == status);
    CHECK(ok.info_len == strlen(info));
    if (ok.info_len)
        CHECK(memcmp(ok.info, info, ok.info_len) == 0);
}

static void roundtrip_err(struct codec_buf *b, uint16_t code, const char *msg)
{
    struct codec_err_pkt e;
    size_t want = strlen(msg) < 512 ? strlen(msg) : 512;

    codec_buf_reset(b);
    CHECK(codec_write_err(b, 2, code, "42000", msg) == 0);
    CHECK(codec_err_parse(b->data + 4, b->len - 4, &e) == 0);
    CHECK(e.code == code && strcmp(e.sqlstate, "42000") == 0);
    CHECK(e.msg_len == want && memcmp(e.msg, msg, want) == 0);
}

/* Two columns named by the text, one row of its halves: every packet of the
 * result set frames correctly. */
static void roundtrip_rs(struct codec_buf *b, uint32_t caps, const char *text)
{
    const char *names[2] = {text, "c"};
    const char *values[2] = {text, NULL};
    struct codec_resultset rs;
    size_t pos = 0;
    unsigned packets = 0;

    codec_buf_reset(b);
    if (codec_rs_begin(&rs, b, 0, caps, 0, 2, names) != 0) {
        CHECK(strlen(text) > 0xffff && b->len == 0);
        return;
    }
    CHECK(codec_rs_row(&rs, 2, values) == 0 && codec_rs_end(&rs) == 0);
    while (pos < b->len) {
        long span = codec_message_span(b->data + pos, b->len - pos, NULL);

        CHECK(span > 0);
        CHECK(b->data[pos + 3] == (uint8_t)packets);
        pos += (size_t)span;
        packets++;
    }
    CHECK(pos == b->len && rs.seq == packets);
}

static void fuzz_writers(const uint8_t *d, size_t n)
{
    uint32_t a = take_u32(&d, &n), bits = take_u32(&d, &n);
    uint64_t affected = ((uint64_t)a << 32) | bits;
    char *text = cstr(d, n, 70000);
    struct codec_buf b;

    if (!text)
        return;
    codec_buf_init(&b);
    roundtrip_ok(&b, affected, bits, (uint16_t)a, text);
    roundtrip_err(&b, (uint16_t)bits, text);
    roundtrip_rs(&b, bits, text);
    codec_buf_free(&b);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void (*const modes[])(const uint8_t *, size_t) = {
        fuzz_handshake, fuzz_change_user, fuzz_ok,          fuzz_err,     fuzz_eof,
        fuzz_span,      fuzz_reader,      fuzz_native_hash, fuzz_writers,
    };

    if (size < 1)
        return 0;
    modes[data[0] % (sizeof(modes) / sizeof(modes[0]))](data + 1, size - 1);
    return 0;
}
