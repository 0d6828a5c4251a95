/*
 * The codec's login messages: the server greeting (protocol 10), the
 * client's handshake response, the auth switch request and COM_CHANGE_USER.
 * Every length is bounded by the payload; see codec.h for the contracts.
 */
#include "codec/codec.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The scramble's length, and the part of it that comes first in the
 * greeting. */
#define SCRAMBLE_LEN 20
#define SCRAMBLE_PART1 8

/* ---- handshake ---- */

int codec_write_handshake(struct codec_buf *b, uint32_t conn_id, const char *server_version,
                          const uint8_t scramble[20], uint32_t server_caps, uint8_t charset,
                          uint16_t status, const char *auth_plugin)
{
    static const uint8_t zeros[10];
    size_t off = codec_buf_packet_begin(b, 0);
    int rc = 0;

    if (off == SIZE_MAX)
        return CODEC_ENOMEM;
    if (!auth_plugin)
        auth_plugin = "mysql_native_password";
    rc |= codec_buf_u8(b, 10); /* protocol version */
    rc |= codec_buf_nul_str(b, server_version);
    rc |= codec_buf_u32(b, conn_id);
    rc |= codec_buf_append(b, scramble, SCRAMBLE_PART1);
    rc |= codec_buf_u8(b, 0); /* filler */
    rc |= codec_buf_u16(b, (uint16_t)server_caps);
    rc |= codec_buf_u8(b, charset);
    rc |= codec_buf_u16(b, status);
    rc |= codec_buf_u16(b, (uint16_t)(server_caps >> 16));
    /* Scramble length including the NUL after part 2. */
    rc |= codec_buf_u8(b, (server_caps & CLIENT_PLUGIN_AUTH_F) ? SCRAMBLE_LEN + 1 : 0);
    /* Reserved; MariaDB puts its extended capabilities in the last four
     * bytes, and zero there means "none of them". */
    rc |= codec_buf_append(b, zeros, sizeof(zeros));
    if (server_caps & CLIENT_SECURE_CONNECTION_F) {
        rc |= codec_buf_append(b, scramble + SCRAMBLE_PART1, SCRAMBLE_LEN - SCRAMBLE_PART1);
        rc |= codec_buf_u8(b, 0);
    }
    if (server_caps & CLIENT_PLUGIN_AUTH_F)
        rc |= codec_buf_nul_str(b, auth_plugin);
    if (rc) {
        b->len = off;
        return CODEC_ENOMEM;
    }
    codec_buf_packet_end(b, off);
    return 0;
}

/*
 * Reads the auth data in the format chosen by caps: lenenc, 1-byte length,
 * or NUL-terminated (oldest clients).
 */
static int read_auth(struct codec_reader *r, uint32_t caps, bool allow_lenenc, const uint8_t **auth,
                     size_t *auth_len)
{
    uint8_t n;

    if (allow_lenenc && (caps & CLIENT_PLUGIN_AUTH_LENENC_F))
        return codec_read_lenenc_str(r, auth, auth_len);
    if (caps & CLIENT_SECURE_CONNECTION_F) {
        if (codec_read_u8(r, &n) < 0)
            return CODEC_EINVAL;
        *auth_len = n;
        return codec_read_bytes(r, n, auth);
    }
    return codec_read_nul_str(r, auth, auth_len);
}

/* A NUL-terminated field that clients may leave out at the end of the
 * packet: read when present says so and bytes are left, else left NULL. */
static int read_trailing_str(struct codec_reader *r, unsigned present, const uint8_t **s,
                             size_t *len)
{
    return present && codec_reader_left(r) > 0 ? codec_read_nul_str(r, s, len) : 0;
}

int codec_handshake_response_parse(const uint8_t *payload, size_t len,
                                   struct codec_handshake_response *out)
{
    struct codec_reader r;
    const uint8_t *filler;

    memset(out, 0, sizeof(*out));
    codec_reader_init(&r, payload, len);
    if (codec_read_u32(&r, &out->caps) < 0 || !(out->caps & CLIENT_PROTOCOL_41_F) ||
        codec_read_u32(&r, &out->max_packet) < 0 || codec_read_u8(&r, &out->charset) < 0 ||
        codec_read_bytes(&r, 23, &filler) < 0)
        return CODEC_EINVAL;
    if (codec_reader_left(&r) == 0) {
        /* 32 bytes and nothing else: SSLRequest; TLS comes next. */
        return (out->caps & CLIENT_SSL_F) ? 0 : CODEC_EINVAL;
    }
    if (codec_read_nul_str(&r, &out->user, &out->user_len) < 0 ||
        read_auth(&r, out->caps, true, &out->auth, &out->auth_len) < 0)
        goto bad;
    /* Some clients set the flag but end the packet before the field. */
    if (read_trailing_str(&r, out->caps & CLIENT_CONNECT_WITH_DB_F, &out->db, &out->db_len) < 0 ||
        read_trailing_str(&r, out->caps & CLIENT_PLUGIN_AUTH_F, &out->plugin, &out->plugin_len) < 0)
        goto bad;
    /* Connect attributes, if any, are not needed by the proxy. */
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return CODEC_EINVAL;
}

int codec_write_auth_switch(struct codec_buf *b, uint8_t seq, const char *plugin,
                            const uint8_t scramble[20])
{
    size_t off = codec_buf_packet_begin(b, seq);
    int rc = 0;

    if (off == SIZE_MAX)
        return CODEC_ENOMEM;
    rc |= codec_buf_u8(b, CODEC_EOF);
    rc |= codec_buf_nul_str(b, plugin);
    rc |= codec_buf_append(b, scramble, SCRAMBLE_LEN);
    rc |= codec_buf_u8(b, 0);
    if (rc) {
        b->len = off;
        return CODEC_ENOMEM;
    }
    codec_buf_packet_end(b, off);
    return 0;
}

/* ---- COM_CHANGE_USER ---- */

int codec_change_user_parse(const uint8_t *payload, size_t len, uint32_t client_caps,
                            struct codec_change_user *out)
{
    struct codec_reader r;

    memset(out, 0, sizeof(*out));
    codec_reader_init(&r, payload, len);
    /* COM_CHANGE_USER never uses the lenenc auth form. */
    if (codec_read_nul_str(&r, &out->user, &out->user_len) < 0 ||
        read_auth(&r, client_caps, false, &out->auth, &out->auth_len) < 0)
        goto bad;
    /* Everything after the auth data is optional in practice: old
     * clients stop after it, newer ones add db, charset, plugin, attrs. */
    if (read_trailing_str(&r, true, &out->db, &out->db_len) < 0 ||
        (codec_reader_left(&r) > 0 && codec_read_u16(&r, &out->charset) < 0) ||
        read_trailing_str(&r, client_caps & CLIENT_PLUGIN_AUTH_F, &out->plugin, &out->plugin_len) <
            0)
        goto bad;
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return CODEC_EINVAL;
}
