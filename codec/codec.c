/*
 * MySQL wire codec: framing, length-encoded values, generic responses,
 * handshake and COM_CHANGE_USER parsing, and building the packets the proxy
 * sends itself (OK, ERR, EOF, small text result sets, handshake).
 *
 * Parsing goes through struct codec_reader, a bounded cursor: every read
 * checks the remaining length first and leaves the cursor untouched on
 * failure, so no parser can read past the caller's len. Parsed strings are
 * pointers into the caller's buffer, never copies.
 *
 * Building goes through struct codec_buf, the only place that allocates
 * (realloc, doubling). A packet is built by reserving its 4-byte header,
 * appending the payload and then patching the length in; on allocation
 * failure a writer rolls the buffer back to where the packet began, so a
 * buffer never holds half a packet.
 *
 * SHA-1 and mysql_native_password live in sha1.c.
 */
#include "codec/codec.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Column length advertised for the string columns of local result sets. */
#define RS_COLUMN_LEN 1024
#define RS_CHARSET_UTF8 33
#define MYSQL_TYPE_VAR_STRING_ 0xfd
/* Longest ERR message we send; clients truncate around here anyway. */
#define ERR_MSG_MAX 512

const char *codec_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case CODEC_EAGAIN:
        return "incomplete message";
    case CODEC_EINVAL:
        return "malformed or truncated packet";
    case CODEC_ENOSPACE:
        return "output buffer too small";
    case CODEC_ENOMEM:
        return "out of memory";
    case CODEC_ETOOBIG:
        return "too large";
    default:
        return "unknown codec error";
    }
}

/* ---- little-endian integers ---- */

uint16_t codec_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t codec_u24(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

uint32_t codec_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

uint64_t codec_u64(const uint8_t *p)
{
    return (uint64_t)codec_u32(p) | ((uint64_t)codec_u32(p + 4) << 32);
}

void codec_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void codec_put_u24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
}

void codec_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    codec_put_u32(p, (uint32_t)v);
    codec_put_u32(p + 4, (uint32_t)(v >> 32));
}

/* ---- packet header ---- */

int codec_header_parse(const uint8_t *buf, size_t len, struct codec_header *out)
{
    if (len < CODEC_HEADER_LEN)
        return CODEC_EAGAIN;
    out->len = codec_u24(buf);
    out->seq = buf[3];
    return 0;
}

void codec_header_write(uint8_t *buf, uint32_t payload_len, uint8_t seq)
{
    assert(payload_len <= CODEC_MAX_PAYLOAD);
    codec_put_u24(buf, payload_len);
    buf[3] = seq;
}

/* ---- reader ---- */

void codec_reader_init(struct codec_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
}

size_t codec_reader_left(const struct codec_reader *r)
{
    return r->len - r->pos;
}

int codec_read_u8(struct codec_reader *r, uint8_t *out)
{
    if (codec_reader_left(r) < 1)
        return CODEC_EINVAL;
    *out = r->p[r->pos++];
    return 0;
}

int codec_read_u16(struct codec_reader *r, uint16_t *out)
{
    if (codec_reader_left(r) < 2)
        return CODEC_EINVAL;
    *out = codec_u16(r->p + r->pos);
    r->pos += 2;
    return 0;
}

int codec_read_u24(struct codec_reader *r, uint32_t *out)
{
    if (codec_reader_left(r) < 3)
        return CODEC_EINVAL;
    *out = codec_u24(r->p + r->pos);
    r->pos += 3;
    return 0;
}

int codec_read_u32(struct codec_reader *r, uint32_t *out)
{
    if (codec_reader_left(r) < 4)
        return CODEC_EINVAL;
    *out = codec_u32(r->p + r->pos);
    r->pos += 4;
    return 0;
}

int codec_read_bytes(struct codec_reader *r, size_t n, const uint8_t **out)
{
    if (codec_reader_left(r) < n)
        return CODEC_EINVAL;
    *out = r->p + r->pos;
    r->pos += n;
    return 0;
}

int codec_read_lenenc(struct codec_reader *r, uint64_t *out, bool *is_null)
{
    size_t left = codec_reader_left(r);
    const uint8_t *p = r->p + r->pos;
    size_t need;
    uint64_t v;

    if (left < 1)
        return CODEC_EINVAL;
    switch (p[0]) {
    case 0xfb:
        if (!is_null)
            return CODEC_EINVAL;
        *is_null = true;
        *out = 0;
        r->pos += 1;
        return 0;
    case 0xfc:
        need = 3;
        break;
    case 0xfd:
        need = 4;
        break;
    case 0xfe:
        need = 9;
        break;
    case 0xff:
        /* 0xff starts an ERR packet, never a length. */
        return CODEC_EINVAL;
    default:
        need = 1;
        break;
    }
    if (left < need)
        return CODEC_EINVAL;
    if (need == 1)
        v = p[0];
    else if (need == 3)
        v = codec_u16(p + 1);
    else if (need == 4)
        v = codec_u24(p + 1);
    else
        v = codec_u64(p + 1);
    if (is_null)
        *is_null = false;
    *out = v;
    r->pos += need;
    return 0;
}

int codec_read_lenenc_str(struct codec_reader *r, const uint8_t **s, size_t *n)
{
    size_t start = r->pos;
    uint64_t v;

    if (codec_read_lenenc(r, &v, NULL) < 0)
        return CODEC_EINVAL;
    if (v > codec_reader_left(r)) {
        r->pos = start;
        return CODEC_EINVAL;
    }
    *s = r->p + r->pos;
    *n = (size_t)v;
    r->pos += (size_t)v;
    return 0;
}

int codec_read_nul_str(struct codec_reader *r, const uint8_t **s, size_t *n)
{
    const uint8_t *start = r->p + r->pos;
    const uint8_t *nul;

    if (codec_reader_left(r) == 0)
        return CODEC_EINVAL;
    nul = memchr(start, 0, codec_reader_left(r));
    if (!nul)
        return CODEC_EINVAL;
    *s = start;
    *n = (size_t)(nul - start);
    r->pos += *n + 1;
    return 0;
}

void codec_read_rest(struct codec_reader *r, const uint8_t **s, size_t *n)
{
    *s = r->p + r->pos;
    *n = codec_reader_left(r);
    r->pos = r->len;
}

size_t codec_lenenc_size(uint64_t v)
{
    if (v < 0xfb)
        return 1;
    if (v <= 0xffff)
        return 3;
    if (v <= 0xffffff)
        return 4;
    return 9;
}

size_t codec_put_lenenc(uint8_t *p, uint64_t v)
{
    if (v < 0xfb) {
        p[0] = (uint8_t)v;
        return 1;
    }
    if (v <= 0xffff) {
        p[0] = 0xfc;
        codec_put_u16(p + 1, (uint16_t)v);
        return 3;
    }
    if (v <= 0xffffff) {
        p[0] = 0xfd;
        codec_put_u24(p + 1, (uint32_t)v);
        return 4;
    }
    p[0] = 0xfe;
    put_u64(p + 1, v);
    return 9;
}

/* ---- growable buffer ---- */

void codec_buf_init(struct codec_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void codec_buf_free(struct codec_buf *b)
{
    free(b->data);
    codec_buf_init(b);
}

void codec_buf_reset(struct codec_buf *b)
{
    b->len = 0;
}

int codec_buf_reserve(struct codec_buf *b, size_t extra)
{
    size_t need, cap;
    uint8_t *p;

    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX - b->len)
        return CODEC_ETOOBIG;
    need = b->len + extra;
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (!p)
        return CODEC_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int codec_buf_append(struct codec_buf *b, const void *p, size_t n)
{
    int rc;

    if (n == 0)
        return 0;
    rc = codec_buf_reserve(b, n);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int codec_buf_u8(struct codec_buf *b, uint8_t v)
{
    return codec_buf_append(b, &v, 1);
}

int codec_buf_u16(struct codec_buf *b, uint16_t v)
{
    uint8_t tmp[2];

    codec_put_u16(tmp, v);
    return codec_buf_append(b, tmp, sizeof(tmp));
}

int codec_buf_u24(struct codec_buf *b, uint32_t v)
{
    uint8_t tmp[3];

    codec_put_u24(tmp, v);
    return codec_buf_append(b, tmp, sizeof(tmp));
}

int codec_buf_u32(struct codec_buf *b, uint32_t v)
{
    uint8_t tmp[4];

    codec_put_u32(tmp, v);
    return codec_buf_append(b, tmp, sizeof(tmp));
}

int codec_buf_lenenc(struct codec_buf *b, uint64_t v)
{
    uint8_t tmp[9];

    return codec_buf_append(b, tmp, codec_put_lenenc(tmp, v));
}

int codec_buf_lenenc_str(struct codec_buf *b, const void *s, size_t n)
{
    int rc = codec_buf_reserve(b, codec_lenenc_size(n) + n);

    if (rc < 0)
        return rc;
    /* Cannot fail after the reserve above. */
    b->len += codec_put_lenenc(b->data + b->len, n);
    return codec_buf_append(b, s, n);
}

int codec_buf_nul_str(struct codec_buf *b, const char *s)
{
    return codec_buf_append(b, s, strlen(s) + 1);
}

/* Returns SIZE_MAX on allocation failure; codec_buf_packet_end() then does
 * nothing, and writers in this file check for it and give up. */
size_t codec_buf_packet_begin(struct codec_buf *b, uint8_t seq)
{
    size_t off = b->len;
    uint8_t hdr[CODEC_HEADER_LEN];

    codec_header_write(hdr, 0, seq);
    if (codec_buf_append(b, hdr, sizeof(hdr)) < 0)
        return SIZE_MAX;
    return off;
}

void codec_buf_packet_end(struct codec_buf *b, size_t begin_off)
{
    size_t n;

    if (begin_off == SIZE_MAX)
        return;
    assert(begin_off + CODEC_HEADER_LEN <= b->len);
    n = b->len - begin_off - CODEC_HEADER_LEN;
    assert(n < CODEC_MAX_PAYLOAD);
    codec_put_u24(b->data + begin_off, (uint32_t)n);
}

int codec_buf_append_packets(struct codec_buf *b, const uint8_t *payload, size_t n, uint8_t *seq)
{
    size_t npackets = n / CODEC_MAX_PAYLOAD + 1;
    size_t rollback = b->len;
    uint8_t s = *seq;

    int rc;

    if (npackets > (SIZE_MAX - n) / CODEC_HEADER_LEN)
        return CODEC_ETOOBIG;
    rc = codec_buf_reserve(b, n + npackets * CODEC_HEADER_LEN);
    if (rc < 0)
        return rc;
    /* A full packet always needs a successor, so a payload that is an exact
     * multiple of 0xffffff (including 0) ends with an empty packet. */
    for (;;) {
        size_t chunk = n < CODEC_MAX_PAYLOAD ? n : CODEC_MAX_PAYLOAD;
        uint8_t hdr[CODEC_HEADER_LEN];

        codec_header_write(hdr, (uint32_t)chunk, s++);
        if (codec_buf_append(b, hdr, sizeof(hdr)) < 0 || codec_buf_append(b, payload, chunk) < 0) {
            b->len = rollback;
            return CODEC_ENOMEM; /* cannot happen after the reserve */
        }
        payload += chunk;
        n -= chunk;
        if (chunk < CODEC_MAX_PAYLOAD)
            break;
    }
    *seq = s;
    return 0;
}

/*
 * Finishes a packet begun at off whose payload may have grown past the
 * single-packet limit: splits it in place into a chain of packets. Advances
 * *seq past the last packet. Returns 0 or CODEC_ENOMEM (the caller rolls
 * back).
 */
static int packet_end_split(struct codec_buf *b, size_t off, uint8_t *seq)
{
    size_t n = b->len - off - CODEC_HEADER_LEN;
    size_t full = n / CODEC_MAX_PAYLOAD;
    size_t extra = full * CODEC_HEADER_LEN;
    size_t src, dst, i;

    if (full == 0) {
        codec_header_write(b->data + off, (uint32_t)n, (*seq)++);
        return 0;
    }
    int rc = codec_buf_reserve(b, extra);

    if (rc < 0)
        return rc;
    /* Move chunks from the last to the first so nothing is overwritten
     * before it is moved; chunk i (0-based) gains i headers in front. */
    for (i = full + 1; i-- > 1;) {
        size_t chunk = i == full ? n - full * CODEC_MAX_PAYLOAD : CODEC_MAX_PAYLOAD;

        src = off + CODEC_HEADER_LEN + i * CODEC_MAX_PAYLOAD;
        dst = src + i * CODEC_HEADER_LEN;
        memmove(b->data + dst, b->data + src, chunk);
    }
    for (i = 0; i <= full; i++) {
        size_t chunk = i == full ? n - full * CODEC_MAX_PAYLOAD : CODEC_MAX_PAYLOAD;

        dst = off + i * (CODEC_HEADER_LEN + CODEC_MAX_PAYLOAD);
        codec_header_write(b->data + dst, (uint32_t)chunk, (*seq)++);
    }
    b->len += extra;
    return 0;
}

/* ---- generic responses ---- */

bool codec_is_eof(const uint8_t *payload, size_t len)
{
    return len >= 1 && len < 9 && payload[0] == CODEC_EOF;
}

bool codec_is_err(const uint8_t *payload, size_t len)
{
    return len >= 1 && payload[0] == CODEC_ERR;
}

/*
 * Status and warnings are read unconditionally: the proxy only speaks
 * protocol 4.1 (pre-4.1 clients are rejected at the handshake), where they
 * are always present.
 */
int codec_ok_parse(const uint8_t *payload, size_t len, uint32_t caps, struct codec_ok *out)
{
    struct codec_reader r;
    uint8_t hdr;
    uint64_t block_len;

    memset(out, 0, sizeof(*out));
    codec_reader_init(&r, payload, len);
    if (codec_read_u8(&r, &hdr) < 0 || (hdr != CODEC_OK && hdr != CODEC_EOF))
        return CODEC_EINVAL;
    if (codec_read_lenenc(&r, &out->affected_rows, NULL) < 0 ||
        codec_read_lenenc(&r, &out->last_insert_id, NULL) < 0 ||
        codec_read_u16(&r, &out->status) < 0 || codec_read_u16(&r, &out->warnings) < 0)
        return CODEC_EINVAL;
    if (!(caps & CLIENT_SESSION_TRACK_F)) {
        if (codec_reader_left(&r) > 0)
            codec_read_rest(&r, &out->info, &out->info_len);
        return 0;
    }
    /* Servers omit the info string entirely when it is empty and no state
     * changed, so the packet may end here. */
    if (codec_reader_left(&r) == 0)
        return 0;
    if (codec_read_lenenc_str(&r, &out->info, &out->info_len) < 0)
        return CODEC_EINVAL;
    if (!(out->status & SERVER_SESSION_STATE_CHANGED_F) || codec_reader_left(&r) == 0)
        return 0;
    if (codec_read_lenenc(&r, &block_len, NULL) < 0 || block_len > codec_reader_left(&r))
        return CODEC_EINVAL;
    out->session_state_len = (size_t)block_len;
    return codec_read_bytes(&r, out->session_state_len, &out->session_state);
}

int codec_err_parse(const uint8_t *payload, size_t len, struct codec_err_pkt *out)
{
    struct codec_reader r;
    uint8_t hdr;
    const uint8_t *state;

    memset(out, 0, sizeof(*out));
    codec_reader_init(&r, payload, len);
    if (codec_read_u8(&r, &hdr) < 0 || hdr != CODEC_ERR || codec_read_u16(&r, &out->code) < 0)
        return CODEC_EINVAL;
    memcpy(out->sqlstate, "HY000", sizeof(out->sqlstate));
    if (codec_reader_left(&r) > 0 && r.p[r.pos] == '#') {
        r.pos++;
        if (codec_read_bytes(&r, 5, &state) < 0)
            return CODEC_EINVAL;
        memcpy(out->sqlstate, state, 5);
        out->sqlstate[5] = '\0';
    }
    codec_read_rest(&r, &out->msg, &out->msg_len);
    return 0;
}

int codec_eof_parse(const uint8_t *payload, size_t len, struct codec_eof *out)
{
    if (len < 5 || !codec_is_eof(payload, len))
        return CODEC_EINVAL;
    out->warnings = codec_u16(payload + 1);
    out->status = codec_u16(payload + 3);
    return 0;
}

void codec_track_iter_init(struct codec_track_iter *it, const uint8_t *block, size_t len)
{
    codec_reader_init(&it->r, block, len);
}

int codec_track_next(struct codec_track_iter *it, uint8_t *type, const uint8_t **data,
                     size_t *data_len)
{
    size_t start = it->r.pos;

    if (codec_reader_left(&it->r) == 0)
        return 0;
    if (codec_read_u8(&it->r, type) < 0 || codec_read_lenenc_str(&it->r, data, data_len) < 0) {
        it->r.pos = start;
        return CODEC_EINVAL;
    }
    return 1;
}

int codec_track_sysvar(const uint8_t *data, size_t len, const uint8_t **name, size_t *name_len,
                       const uint8_t **value, size_t *value_len)
{
    struct codec_reader r;

    codec_reader_init(&r, data, len);
    if (codec_read_lenenc_str(&r, name, name_len) < 0 ||
        codec_read_lenenc_str(&r, value, value_len) < 0)
        return CODEC_EINVAL;
    return 0;
}

int codec_track_schema(const uint8_t *data, size_t len, const uint8_t **schema, size_t *n)
{
    struct codec_reader r;

    codec_reader_init(&r, data, len);
    return codec_read_lenenc_str(&r, schema, n);
}

/* ---- building server responses ---- */

/*
 * Appends the OK payload fields after the header byte. info_lenenc selects
 * the CLIENT_SESSION_TRACK encoding of the info string.
 */
static int ok_body(struct codec_buf *b, uint64_t affected, uint64_t last_id, uint16_t status,
                   uint16_t warnings, const char *info, bool info_lenenc)
{
    size_t info_len = info ? strlen(info) : 0;
    int rc = 0;

    rc |= codec_buf_lenenc(b, affected);
    rc |= codec_buf_lenenc(b, last_id);
    rc |= codec_buf_u16(b, status);
    rc |= codec_buf_u16(b, warnings);
    /* An empty info is left out entirely: that reads correctly whether or
     * not the client negotiated CLIENT_SESSION_TRACK. */
    if (info_len > 0) {
        if (info_lenenc)
            rc |= codec_buf_lenenc_str(b, info, info_len);
        else
            rc |= codec_buf_append(b, info, info_len);
    }
    return rc ? CODEC_ENOMEM : 0;
}

static int write_ok(struct codec_buf *b, uint8_t seq, uint8_t hdr, uint64_t affected,
                    uint64_t last_id, uint16_t status, uint16_t warnings, const char *info,
                    bool info_lenenc)
{
    size_t off = codec_buf_packet_begin(b, seq);

    if (off == SIZE_MAX)
        return CODEC_ENOMEM;
    if (codec_buf_u8(b, hdr) < 0 ||
        ok_body(b, affected, last_id, status, warnings, info, info_lenenc) < 0) {
        b->len = off;
        return CODEC_ENOMEM;
    }
    codec_buf_packet_end(b, off);
    return 0;
}

int codec_write_ok(struct codec_buf *b, uint8_t seq, uint64_t affected, uint64_t last_id,
                   uint16_t status, uint16_t warnings, const char *info)
{
    return write_ok(b, seq, CODEC_OK, affected, last_id, status, warnings, info, true);
}

int codec_write_ok_caps(struct codec_buf *b, uint8_t seq, uint32_t caps, uint64_t affected,
                        uint64_t last_id, uint16_t status, uint16_t warnings, const char *info)
{
    /* The protocol documents info as string<EOF> without session tracking,
     * but MariaDB and MySQL servers write it length-encoded either way and
     * Connector/C reads it that way; do as the servers do. */
    (void)caps;
    return write_ok(b, seq, CODEC_OK, affected, last_id, status, warnings, info, true);
}

int codec_write_ok_eof(struct codec_buf *b, uint8_t seq, uint16_t status, uint16_t warnings)
{
    return write_ok(b, seq, CODEC_EOF, 0, 0, status, warnings, NULL, false);
}

int codec_write_eof(struct codec_buf *b, uint8_t seq, uint16_t status, uint16_t warnings)
{
    size_t off = codec_buf_packet_begin(b, seq);

    if (off == SIZE_MAX)
        return CODEC_ENOMEM;
    if (codec_buf_u8(b, CODEC_EOF) < 0 || codec_buf_u16(b, warnings) < 0 ||
        codec_buf_u16(b, status) < 0) {
        b->len = off;
        return CODEC_ENOMEM;
    }
    codec_buf_packet_end(b, off);
    return 0;
}

int codec_write_err(struct codec_buf *b, uint8_t seq, uint16_t code, const char *sqlstate,
                    const char *msg)
{
    size_t msg_len = 0;
    size_t off;
    int rc = 0;

    /* A SQLSTATE is exactly five characters; anything else would shift the
     * message, so fall back to the generic one. */
    if (!sqlstate || strlen(sqlstate) != 5)
        sqlstate = "HY000";
    /* Bounded scan: never look past the cap, whatever msg's length. */
    while (msg && msg_len < ERR_MSG_MAX && msg[msg_len] != '\0')
        msg_len++;
    off = codec_buf_packet_begin(b, seq);
    if (off == SIZE_MAX)
        return CODEC_ENOMEM;
    rc |= codec_buf_u8(b, CODEC_ERR);
    rc |= codec_buf_u16(b, code);
    rc |= codec_buf_u8(b, '#');
    rc |= codec_buf_append(b, sqlstate, 5);
    rc |= codec_buf_append(b, msg, msg_len);
    if (rc) {
        b->len = off;
        return CODEC_ENOMEM;
    }
    codec_buf_packet_end(b, off);
    return 0;
}

/* ---- local text result sets ---- */

static int column_def(struct codec_buf *b, uint8_t seq, const char *name)
{
    size_t name_len = strlen(name);
    size_t off;
    int rc = 0;

    if (name_len > 0xffff)
        return CODEC_ETOOBIG;
    off = codec_buf_packet_begin(b, seq);
    if (off == SIZE_MAX)
        return CODEC_ENOMEM;
    rc |= codec_buf_lenenc_str(b, "def", 3); /* catalog */
    rc |= codec_buf_lenenc_str(b, "", 0);    /* schema */
    rc |= codec_buf_lenenc_str(b, "", 0);    /* table */
    rc |= codec_buf_lenenc_str(b, "", 0);    /* org_table */
    rc |= codec_buf_lenenc_str(b, name, name_len);
    rc |= codec_buf_lenenc_str(b, name, name_len); /* org_name */
    rc |= codec_buf_lenenc(b, 0x0c);               /* length of the fixed fields */
    rc |= codec_buf_u16(b, RS_CHARSET_UTF8);
    rc |= codec_buf_u32(b, RS_COLUMN_LEN);
    rc |= codec_buf_u8(b, MYSQL_TYPE_VAR_STRING_);
    rc |= codec_buf_u16(b, 0); /* flags */
    rc |= codec_buf_u8(b, 0);  /* decimals */
    rc |= codec_buf_u16(b, 0); /* filler */
    if (rc) {
        b->len = off;
        return CODEC_ENOMEM;
    }
    codec_buf_packet_end(b, off);
    return 0;
}

int codec_rs_begin(struct codec_resultset *rs, struct codec_buf *b, uint8_t seq, uint32_t caps,
                   uint16_t status, unsigned ncols, const char *const *names)
{
    size_t start = b->len;
    uint8_t s = seq;
    size_t off;
    unsigned i;
    int rc;

    if (ncols == 0 || !names)
        return CODEC_EINVAL;
    for (i = 0; i < ncols; i++) {
        if (!names[i])
            return CODEC_EINVAL;
    }
    off = codec_buf_packet_begin(b, s++);
    if (off == SIZE_MAX)
        return CODEC_ENOMEM;
    if (codec_buf_lenenc(b, ncols) < 0) {
        b->len = start;
        return CODEC_ENOMEM;
    }
    codec_buf_packet_end(b, off);
    for (i = 0; i < ncols; i++) {
        rc = column_def(b, s++, names[i]);
        if (rc < 0) {
            b->len = start;
            return rc;
        }
    }
    if (!(caps & CLIENT_DEPRECATE_EOF_F)) {
        if (codec_write_eof(b, s++, status, 0) < 0) {
            b->len = start;
            return CODEC_ENOMEM;
        }
    }
    rs->b = b;
    rs->seq = s;
    rs->caps = caps;
    rs->status = status;
    return 0;
}

/* A row may exceed one packet (long values), so it is split in place. */
int codec_rs_row(struct codec_resultset *rs, unsigned ncols, const char *const *values)
{
    struct codec_buf *b = rs->b;
    size_t off = codec_buf_packet_begin(b, rs->seq);
    unsigned i;
    int rc = 0;

    if (off == SIZE_MAX)
        return CODEC_ENOMEM;
    for (i = 0; i < ncols && rc == 0; i++) {
        if (values[i])
            rc = codec_buf_lenenc_str(b, values[i], strlen(values[i]));
        else
            rc = codec_buf_u8(b, 0xfb);
    }
    if (rc < 0 || packet_end_split(b, off, &rs->seq) < 0) {
        b->len = off;
        return CODEC_ENOMEM;
    }
    return 0;
}

int codec_rs_end(struct codec_resultset *rs)
{
    int rc;

    if (rs->caps & CLIENT_DEPRECATE_EOF_F)
        rc = codec_write_ok_eof(rs->b, rs->seq, rs->status, 0);
    else
        rc = codec_write_eof(rs->b, rs->seq, rs->status, 0);
    if (rc == 0)
        rs->seq++;
    return rc;
}

/* ---- reassembly ---- */

long codec_message_span(const uint8_t *buf, size_t len, unsigned *npackets)
{
    size_t pos = 0;
    unsigned n = 0;

    for (;;) {
        uint32_t plen;

        if (len - pos < CODEC_HEADER_LEN)
            return CODEC_EAGAIN;
        plen = codec_u24(buf + pos);
        if (len - pos - CODEC_HEADER_LEN < plen)
            return CODEC_EAGAIN;
        pos += CODEC_HEADER_LEN + plen;
        n++;
        if (plen < CODEC_MAX_PAYLOAD)
            break;
    }
    if (pos > (size_t)LONG_MAX)
        return CODEC_EINVAL;
    if (npackets)
        *npackets = n;
    return (long)pos;
}

uint64_t codec_message_announced(const uint8_t *buf, size_t len, uint8_t *last_seq)
{
    uint64_t total = 0;
    size_t pos = 0;

    *last_seq = 0;
    while (len - pos >= CODEC_HEADER_LEN) {
        uint32_t plen = codec_u24(buf + pos);
        *last_seq = buf[pos + 3];
        total += plen;
        if (plen < CODEC_MAX_PAYLOAD || len - pos - CODEC_HEADER_LEN < plen)
            break;
        pos += CODEC_HEADER_LEN + plen;
    }
    return total;
}
