/*
 * MySQL wire protocol codec: pure functions over byte buffers, no sockets.
 *
 * A module of its own (codec/), used by the client relay (proxy/) and the
 * operator listeners (ops/): it uses no other module. Every function works on
 * (ptr, len) and never reads past len; parse functions return a negative
 * CODEC_E* code on truncated or malformed input instead of guessing.
 *
 * A MySQL packet is a 4-byte header (3-byte little-endian payload length,
 * 1-byte sequence id) followed by the payload. A payload of exactly
 * 0xffffff bytes means "continued in the next packet"; the logical message
 * ends with the first packet shorter than 0xffffff (possibly empty).
 */
#ifndef SLUICE_CODEC_H
#define SLUICE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CODEC_HEADER_LEN 4
#define CODEC_MAX_PAYLOAD 0xffffffu

/* What a fallible codec function returns: 0 (or a documented count) on
 * success, or one of these. */
enum codec_err {
    CODEC_EAGAIN = -1,   /* need more bytes */
    CODEC_EINVAL = -2,   /* malformed or truncated input, or a bad argument */
    CODEC_ENOSPACE = -3, /* output buffer too small */
    CODEC_ENOMEM = -4,   /* allocation failed (the buffer is as it was) */
    CODEC_ETOOBIG = -5,  /* a size past what the buffer or the protocol can hold */
};

/* A static description of err (0, a CODEC_E* code); "unknown codec error"
 * for any other value. Never NULL. */
const char *codec_strerror(int err);

#define CODEC_WUR __attribute__((warn_unused_result))

/* Capability flags (subset we use). */
#define CLIENT_LONG_PASSWORD_F 0x00000001u
#define CLIENT_FOUND_ROWS_F 0x00000002u
#define CLIENT_LONG_FLAG_F 0x00000004u
#define CLIENT_CONNECT_WITH_DB_F 0x00000008u
#define CLIENT_NO_SCHEMA_F 0x00000010u
#define CLIENT_COMPRESS_F 0x00000020u
#define CLIENT_ODBC_F 0x00000040u
#define CLIENT_LOCAL_FILES_F 0x00000080u
#define CLIENT_IGNORE_SPACE_F 0x00000100u
#define CLIENT_PROTOCOL_41_F 0x00000200u
#define CLIENT_INTERACTIVE_F 0x00000400u
#define CLIENT_SSL_F 0x00000800u
#define CLIENT_IGNORE_SIGPIPE_F 0x00001000u
#define CLIENT_TRANSACTIONS_F 0x00002000u
#define CLIENT_RESERVED_F 0x00004000u
#define CLIENT_SECURE_CONNECTION_F 0x00008000u
#define CLIENT_MULTI_STATEMENTS_F 0x00010000u
#define CLIENT_MULTI_RESULTS_F 0x00020000u
#define CLIENT_PS_MULTI_RESULTS_F 0x00040000u
#define CLIENT_PLUGIN_AUTH_F 0x00080000u
#define CLIENT_CONNECT_ATTRS_F 0x00100000u
#define CLIENT_PLUGIN_AUTH_LENENC_F 0x00200000u
#define CLIENT_CAN_HANDLE_EXPIRED_F 0x00400000u
#define CLIENT_SESSION_TRACK_F 0x00800000u
#define CLIENT_DEPRECATE_EOF_F 0x01000000u

/* Server status flags. */
#define SERVER_STATUS_IN_TRANS_F 0x0001u
#define SERVER_STATUS_AUTOCOMMIT_F 0x0002u
#define SERVER_MORE_RESULTS_EXISTS_F 0x0008u
#define SERVER_STATUS_CURSOR_EXISTS_F 0x0040u
#define SERVER_STATUS_LAST_ROW_SENT_F 0x0080u
#define SERVER_STATUS_IN_TRANS_READONLY_F 0x2000u
#define SERVER_SESSION_STATE_CHANGED_F 0x4000u

/* Session-track entry types (OK packet). */
#define SESSION_TRACK_SYSTEM_VARIABLES 0
#define SESSION_TRACK_SCHEMA 1
#define SESSION_TRACK_STATE_CHANGE 2
#define SESSION_TRACK_GTIDS 3
#define SESSION_TRACK_TRANSACTION_CHARACTERISTICS 4
#define SESSION_TRACK_TRANSACTION_STATE 5

/* ---- little-endian integers ---- */
uint16_t codec_u16(const uint8_t *p);
uint32_t codec_u24(const uint8_t *p);
uint32_t codec_u32(const uint8_t *p);
uint64_t codec_u64(const uint8_t *p);
void codec_put_u16(uint8_t *p, uint16_t v);
void codec_put_u24(uint8_t *p, uint32_t v);
void codec_put_u32(uint8_t *p, uint32_t v);

/* ---- packet header ---- */
struct codec_header {
    uint32_t len; /* payload length */
    uint8_t seq;
};
/* Reads the header at buf. Returns 0 or CODEC_EAGAIN if len < 4 (callers
 * that framed the message first may ignore the result). */
int codec_header_parse(const uint8_t *buf, size_t len, struct codec_header *out);
void codec_header_write(uint8_t *buf, uint32_t payload_len, uint8_t seq);

/* ---- length-encoded integers and strings ----
 * A reader keeps a cursor over (ptr, len). Every read returns 0 or
 * CODEC_EINVAL when it would run past the end; on error the cursor is
 * unchanged. */
struct codec_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
};
void codec_reader_init(struct codec_reader *r, const uint8_t *p, size_t len);
size_t codec_reader_left(const struct codec_reader *r);
int codec_read_u8(struct codec_reader *r, uint8_t *out) CODEC_WUR;
int codec_read_u16(struct codec_reader *r, uint16_t *out) CODEC_WUR;
int codec_read_u24(struct codec_reader *r, uint32_t *out) CODEC_WUR;
int codec_read_u32(struct codec_reader *r, uint32_t *out) CODEC_WUR;
/* Fixed-size bytes (pointer into the buffer, no copy). */
int codec_read_bytes(struct codec_reader *r, size_t n, const uint8_t **out) CODEC_WUR;
/* Length-encoded integer. *is_null set when the 0xfb marker is read (the
 * NULL of a text-protocol row); is_null may be NULL, then 0xfb is EINVAL. */
int codec_read_lenenc(struct codec_reader *r, uint64_t *out, bool *is_null) CODEC_WUR;
/* Length-encoded string: pointer into the buffer and its length. */
int codec_read_lenenc_str(struct codec_reader *r, const uint8_t **s, size_t *n) CODEC_WUR;
/* NUL-terminated string; *n excludes the NUL, cursor moves past it. */
int codec_read_nul_str(struct codec_reader *r, const uint8_t **s, size_t *n) CODEC_WUR;
/* Rest of the buffer. */
void codec_read_rest(struct codec_reader *r, const uint8_t **s, size_t *n);

/* Size in bytes of the lenenc encoding of v (1, 3, 4 or 9). */
size_t codec_lenenc_size(uint64_t v);
/* Writes the lenenc encoding of v at p (needs codec_lenenc_size(v) bytes);
 * returns the bytes written. */
size_t codec_put_lenenc(uint8_t *p, uint64_t v);

/* ---- a growable output buffer for building packets ---- */
struct codec_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};
void codec_buf_init(struct codec_buf *b);
void codec_buf_free(struct codec_buf *b);
void codec_buf_reset(struct codec_buf *b); /* len = 0, keeps memory */
/* All append functions return 0, CODEC_ENOMEM on allocation failure or
 * CODEC_ETOOBIG when the buffer would pass SIZE_MAX; the buffer is
 * unchanged on failure. */
int codec_buf_reserve(struct codec_buf *b, size_t extra) CODEC_WUR;
int codec_buf_append(struct codec_buf *b, const void *p, size_t n) CODEC_WUR;
int codec_buf_u8(struct codec_buf *b, uint8_t v) CODEC_WUR;
int codec_buf_u16(struct codec_buf *b, uint16_t v) CODEC_WUR;
int codec_buf_u24(struct codec_buf *b, uint32_t v) CODEC_WUR;
int codec_buf_u32(struct codec_buf *b, uint32_t v) CODEC_WUR;
int codec_buf_lenenc(struct codec_buf *b, uint64_t v) CODEC_WUR;
int codec_buf_lenenc_str(struct codec_buf *b, const void *s, size_t n) CODEC_WUR;
int codec_buf_nul_str(struct codec_buf *b, const char *s) CODEC_WUR;
/* Starts a packet: appends a 4-byte header placeholder and returns its
 * offset; codec_buf_packet_end() fills in the length (payload must stay
 * below 16 MiB - 1; larger payloads are for codec_buf_append_packets) */
size_t codec_buf_packet_begin(struct codec_buf *b, uint8_t seq);
void codec_buf_packet_end(struct codec_buf *b, size_t begin_off);
/* Appends payload of any size as one or more packets, splitting at
 * 0xffffff and adding the empty terminator packet when needed. *seq is
 * advanced past the last packet written. Returns 0, CODEC_ENOMEM or
 * CODEC_ETOOBIG (nothing appended then). */
int codec_buf_append_packets(struct codec_buf *b, const uint8_t *payload, size_t n,
                             uint8_t *seq) CODEC_WUR;

/* ---- generic responses ---- */
/* First payload byte classification. */
#define CODEC_OK 0x00
#define CODEC_EOF 0xfe
#define CODEC_ERR 0xff
#define CODEC_LOCAL_INFILE 0xfb

/* Command bytes (the first byte of a client's command message). Prefixed:
 * mysql.h has an enum with the plain names. */
enum codec_command {
    CODEC_COM_QUIT = 0x01,
    CODEC_COM_INIT_DB = 0x02,
    CODEC_COM_QUERY = 0x03,
    CODEC_COM_FIELD_LIST = 0x04,
    CODEC_COM_STATISTICS = 0x09,
    CODEC_COM_PING = 0x0e,
    CODEC_COM_CHANGE_USER = 0x11,
    CODEC_COM_STMT_PREPARE = 0x16,
    CODEC_COM_STMT_EXECUTE = 0x17,
    CODEC_COM_STMT_SEND_LONG_DATA = 0x18,
    CODEC_COM_STMT_CLOSE = 0x19,
    CODEC_COM_STMT_RESET = 0x1a,
    CODEC_COM_SET_OPTION = 0x1b,
    CODEC_COM_STMT_FETCH = 0x1c,
    CODEC_COM_RESET_CONNECTION = 0x1f,
};

/* An EOF packet is 0xfe with payload length < 9; an OK packet sent in place of
 * EOF (CLIENT_DEPRECATE_EOF) is 0xfe with payload length >= 7 too, so callers
 * pass the context. */
bool codec_is_eof(const uint8_t *payload, size_t len);
bool codec_is_err(const uint8_t *payload, size_t len);

struct codec_ok {
    uint64_t affected_rows;
    uint64_t last_insert_id;
    uint16_t status;
    uint16_t warnings;
    const uint8_t *info; /* human-readable info, pointer into payload */
    size_t info_len;
    const uint8_t *session_state; /* raw session-state-info block (without its lenenc length) */
    size_t session_state_len;
};
/* Parses an OK packet (header byte 0x00 or 0xfe). caps are the negotiated
 * capabilities: session-state info is present only with
 * CLIENT_SESSION_TRACK and SERVER_SESSION_STATE_CHANGED. Returns 0 or
 * CODEC_EINVAL (not an OK packet, or truncated). */
int codec_ok_parse(const uint8_t *payload, size_t len, uint32_t caps,
                   struct codec_ok *out) CODEC_WUR;

struct codec_err_pkt {
    uint16_t code;
    char sqlstate[6]; /* NUL-terminated, "HY000" if the packet has none */
    const uint8_t *msg;
    size_t msg_len;
};
/* 0 or CODEC_EINVAL (not an ERR packet, or truncated). */
int codec_err_parse(const uint8_t *payload, size_t len, struct codec_err_pkt *out) CODEC_WUR;

struct codec_eof {
    uint16_t warnings;
    uint16_t status;
};
/* 0 or CODEC_EINVAL (not a 5-byte-or-longer EOF packet). */
int codec_eof_parse(const uint8_t *payload, size_t len, struct codec_eof *out) CODEC_WUR;

/* Iterates the session-state-info block of an OK packet. Each call yields
 * one entry: type and its data (still type-specific encoded). Returns 1
 * when an entry was produced, 0 at the end, CODEC_EINVAL if malformed. */
struct codec_track_iter {
    struct codec_reader r;
};
void codec_track_iter_init(struct codec_track_iter *it, const uint8_t *block, size_t len);
int codec_track_next(struct codec_track_iter *it, uint8_t *type, const uint8_t **data,
                     size_t *data_len) CODEC_WUR;
/* Both return 0 or CODEC_EINVAL. For SESSION_TRACK_SYSTEM_VARIABLES entry data: name and value
 * (lenenc strings). For SESSION_TRACK_SCHEMA: the schema name (lenenc). For
 * SESSION_TRACK_STATE_CHANGE: one lenenc string "1". For GTIDS (MariaDB
 * sends last_gtid as a system variable; MySQL uses type 3 with an encoding
 * byte then a lenenc string). */
int codec_track_sysvar(const uint8_t *data, size_t len, const uint8_t **name, size_t *name_len,
                       const uint8_t **value, size_t *value_len) CODEC_WUR;
int codec_track_schema(const uint8_t *data, size_t len, const uint8_t **schema,
                       size_t *n) CODEC_WUR;

/* ---- building server responses (each appends one whole packet) ----
 * Each returns 0, or CODEC_ENOMEM with the buffer as it was before. The
 * OK, EOF and ERR writers (and the auth switch) may be called for their
 * effect only: a reply that could not be built leaves nothing to send, and
 * the session ends on the error that led there. */
int codec_write_ok(struct codec_buf *b, uint8_t seq, uint64_t affected, uint64_t last_id,
                   uint16_t status, uint16_t warnings, const char *info);
/* As codec_write_ok, but encodes a non-empty info for the client's caps: a
 * lenenc string under CLIENT_SESSION_TRACK, else the rest of the packet.
 * codec_write_ok always uses the latter, which is right for every client
 * only when info is NULL or empty (then it is omitted). */
int codec_write_ok_caps(struct codec_buf *b, uint8_t seq, uint32_t caps, uint64_t affected,
                        uint64_t last_id, uint16_t status, uint16_t warnings,
                        const char *info) CODEC_WUR;
/* An OK packet with 0xfe header used to end a result set under
 * CLIENT_DEPRECATE_EOF. */
int codec_write_ok_eof(struct codec_buf *b, uint8_t seq, uint16_t status,
                       uint16_t warnings) CODEC_WUR;
int codec_write_eof(struct codec_buf *b, uint8_t seq, uint16_t status, uint16_t warnings);
/* msg is printf-free plain text; truncated to 512 bytes. */
int codec_write_err(struct codec_buf *b, uint8_t seq, uint16_t code, const char *sqlstate,
                    const char *msg);

/* A text result set with string columns, for answers the proxy makes
 * itself (e.g. SELECT @@version_comment handled locally, admin queries).
 * Usage: begin(ncols) with column names, then row() per row, then end(). */
struct codec_resultset {
    struct codec_buf *b;
    uint8_t seq;
    uint32_t caps; /* client caps: decides EOF vs OK-EOF */
    uint16_t status;
};
/* Returns 0; CODEC_EINVAL when ncols is 0 or a name is NULL, CODEC_ETOOBIG
 * for a name of 64 KiB or more, CODEC_ENOMEM; the buffer is as it was on
 * failure. */
int codec_rs_begin(struct codec_resultset *rs, struct codec_buf *b, uint8_t seq, uint32_t caps,
                   uint16_t status, unsigned ncols, const char *const *names) CODEC_WUR;
/* values[i] NULL means SQL NULL. 0 or CODEC_ENOMEM. */
int codec_rs_row(struct codec_resultset *rs, unsigned ncols, const char *const *values) CODEC_WUR;
int codec_rs_end(struct codec_resultset *rs) CODEC_WUR;

/* ---- handshake ---- */
struct codec_handshake_response {
    uint32_t caps;
    uint32_t max_packet;
    uint8_t charset;
    const uint8_t *user;
    size_t user_len;
    const uint8_t *auth;
    size_t auth_len;
    const uint8_t *db; /* NULL if absent */
    size_t db_len;
    const uint8_t *plugin; /* NULL if absent */
    size_t plugin_len;
    /* connect attributes are skipped */
};
/* Writes the server's Protocol::HandshakeV10 packet (seq 0). scramble is 20
 * bytes; server_caps the capabilities to advertise. 0 or CODEC_ENOMEM. */
int codec_write_handshake(struct codec_buf *b, uint32_t conn_id, const char *server_version,
                          const uint8_t scramble[20], uint32_t server_caps, uint8_t charset,
                          uint16_t status, const char *auth_plugin) CODEC_WUR;
/* Parses HandshakeResponse41. Rejects pre-4.1 clients with CODEC_EINVAL.
 * A 32-byte SSLRequest (caps has CLIENT_SSL) parses with user == NULL. */
int codec_handshake_response_parse(const uint8_t *payload, size_t len,
                                   struct codec_handshake_response *out) CODEC_WUR;
/* Writes an AuthSwitchRequest (0xfe, plugin name, scramble + NUL). 0 or
 * CODEC_ENOMEM. */
int codec_write_auth_switch(struct codec_buf *b, uint8_t seq, const char *plugin,
                            const uint8_t scramble[20]);

/* ---- COM_CHANGE_USER payload (after the 0x11 command byte) ---- */
struct codec_change_user {
    const uint8_t *user;
    size_t user_len;
    const uint8_t *auth;
    size_t auth_len;
    const uint8_t *db;
    size_t db_len;
    uint16_t charset; /* 0 if absent */
    const uint8_t *plugin;
    size_t plugin_len;
};
/* 0 or CODEC_EINVAL (truncated or malformed; *out zeroed). */
int codec_change_user_parse(const uint8_t *payload, size_t len, uint32_t client_caps,
                            struct codec_change_user *out) CODEC_WUR;

/* ---- mysql_native_password ---- */
void codec_sha1(const void *data, size_t len, uint8_t out[20]);
/* Stored hash as MySQL keeps it: SHA1(SHA1(password)). */
void codec_native_hash(const char *password, size_t len, uint8_t out[20]);
/* Parses "*" + 40 hex digits (case-insensitive) into 20 bytes. Returns 0 or
 * CODEC_EINVAL. */
int codec_native_hash_parse(const char *text, size_t len, uint8_t out[20]) CODEC_WUR;
/* Verifies a client's 20-byte token for scramble against the stored
 * double-SHA1 hash. An empty token matches only an empty password, whose
 * stored_hash is all zero by convention (has_password false). */
bool codec_native_verify(const uint8_t stored_hash[20], bool has_password,
                         const uint8_t scramble[20], const uint8_t *token, size_t token_len);
/* Computes the token a client sends for password and scramble. */
void codec_native_token(const char *password, size_t len, const uint8_t scramble[20],
                        uint8_t out[20]);

/* ---- packet reassembly for large messages ---- */
/* Given a buffer beginning at a packet header, returns the total number of
 * bytes (headers included) that make up the logical message (packets chained
 * by 0xffffff payloads) if the whole message is present, else CODEC_EAGAIN.
 * *npackets gets the number of packets. Never reads past len. */
long codec_message_span(const uint8_t *buf, size_t len, unsigned *npackets) CODEC_WUR;
/* The payload bytes that the message beginning at buf is known to need so
 * far: the announced length of every packet whose header has arrived, up to
 * the message's last packet. A bound can be checked with it while the
 * message still arrives. *last_seq gets the sequence id of the last header
 * seen (0 when none). Never reads past len. */
uint64_t codec_message_announced(const uint8_t *buf, size_t len, uint8_t *last_seq);

#endif
