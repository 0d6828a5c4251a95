/*
 * SHA-1 (FIPS 180-4) and mysql_native_password.
 *
 * SHA-1 is written from the specification rather than taken from OpenSSL
 * so the proxy's client authentication has no crypto library dependency;
 * it is only used for the native-password scheme, where SHA-1 is fixed by
 * the protocol.
 *
 * mysql_native_password, with scramble S sent by the server and the
 * stored hash H = SHA1(SHA1(password)):
 *   client token  T = SHA1(password) XOR SHA1(S || H)
 *   server check  SHA1(T XOR SHA1(S || H)) == H
 * so the server never needs the password itself.
 */
#include "codec/codec.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define SHA1_LEN 20
#define SHA1_BLOCK 64

struct sha1_ctx {
    uint32_t h[5];
    uint64_t total; /* bytes hashed so far */
    uint8_t block[SHA1_BLOCK];
    size_t used; /* bytes pending in block */
};

static uint32_t rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void sha1_init(struct sha1_ctx *c)
{
    c->h[0] = 0x67452301u;
    c->h[1] = 0xefcdab89u;
    c->h[2] = 0x98badcfeu;
    c->h[3] = 0x10325476u;
    c->h[4] = 0xc3d2e1f0u;
    c->total = 0;
    c->used = 0;
}

/* FIPS 180-4 section 6.1.2, with the 80-word schedule kept in a 16-word
 * ring (section 6.1.3) to keep the stack small. */
static void sha1_block(struct sha1_ctx *c, const uint8_t *p)
{
    uint32_t w[16];
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4];
    unsigned t;

    for (t = 0; t < 16; t++)
        w[t] = be32(p + 4 * t);
    for (t = 0; t < 80; t++) {
        uint32_t f, k, tmp;

        if (t >= 16) {
            w[t & 15] = rol(w[(t + 13) & 15] ^ w[(t + 8) & 15] ^ w[(t + 2) & 15] ^ w[t & 15], 1);
        }
        if (t < 20) {
            f = (b & cc) | (~b & d);
            k = 0x5a827999u;
        } else if (t < 40) {
            f = b ^ cc ^ d;
            k = 0x6ed9eba1u;
        } else if (t < 60) {
            f = (b & cc) | (b & d) | (cc & d);
            k = 0x8f1bbcdcu;
        } else {
            f = b ^ cc ^ d;
            k = 0xca62c1d6u;
        }
        tmp = rol(a, 5) + f + e + k + w[t & 15];
        e = d;
        d = cc;
        cc = rol(b, 30);
        b = a;
        a = tmp;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
}

static void sha1_update(struct sha1_ctx *c, const void *data, size_t len)
{
    const uint8_t *p = data;

    c->total += len;
    if (c->used > 0) {
        size_t n = SHA1_BLOCK - c->used;

        if (n > len)
            n = len;
        memcpy(c->block + c->used, p, n);
        c->used += n;
        p += n;
        len -= n;
        if (c->used < SHA1_BLOCK)
            return;
        sha1_block(c, c->block);
        c->used = 0;
    }
    while (len >= SHA1_BLOCK) {
        sha1_block(c, p);
        p += SHA1_BLOCK;
        len -= SHA1_BLOCK;
    }
    if (len > 0) {
        memcpy(c->block, p, len);
        c->used = len;
    }
}

static void sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_LEN])
{
    uint64_t bits = c->total * 8;
    unsigned i;

    /* Padding: a 1 bit, zeros up to 56 mod 64, then the 64-bit length. */
    c->block[c->used++] = 0x80;
    if (c->used > SHA1_BLOCK - 8) {
        memset(c->block + c->used, 0, SHA1_BLOCK - c->used);
        sha1_block(c, c->block);
        c->used = 0;
    }
    memset(c->block + c->used, 0, SHA1_BLOCK - 8 - c->used);
    put_be32(c->block + 56, (uint32_t)(bits >> 32));
    put_be32(c->block + 60, (uint32_t)bits);
    sha1_block(c, c->block);
    for (i = 0; i < 5; i++)
        put_be32(out + 4 * i, c->h[i]);
    memset(c, 0, sizeof(*c));
}

void codec_sha1(const void *data, size_t len, uint8_t out[20])
{
    struct sha1_ctx c;

    sha1_init(&c);
    sha1_update(&c, data, len);
    sha1_final(&c, out);
}

void codec_native_hash(const char *password, size_t len, uint8_t out[20])
{
    uint8_t stage1[SHA1_LEN];

    codec_sha1(password, len, stage1);
    codec_sha1(stage1, sizeof(stage1), out);
    memset(stage1, 0, sizeof(stage1));
}

/* The value of the hex digit c in *out; false when c is none. */
static bool hex_val(char c, unsigned *out)
{
    if (c >= '0' && c <= '9')
        *out = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
        *out = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
        *out = (unsigned)(c - 'A' + 10);
    else
        return false;
    return true;
}

int codec_native_hash_parse(const char *text, size_t len, uint8_t out[20])
{
    uint8_t tmp[SHA1_LEN];
    size_t i;

    if (len != 1 + 2 * SHA1_LEN || text[0] != '*')
        return CODEC_EINVAL;
    for (i = 0; i < SHA1_LEN; i++) {
        unsigned hi, lo;

        if (!hex_val(text[1 + 2 * i], &hi) || !hex_val(text[2 + 2 * i], &lo))
            return CODEC_EINVAL;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    /* Only touch out once the whole string is known to be valid. */
    memcpy(out, tmp, sizeof(tmp));
    return 0;
}

/* SHA1(scramble || stored_hash): the mask both sides XOR with. */
static void native_mask(const uint8_t scramble[20], const uint8_t hash[20], uint8_t out[20])
{
    struct sha1_ctx c;

    sha1_init(&c);
    sha1_update(&c, scramble, SHA1_LEN);
    sha1_update(&c, hash, SHA1_LEN);
    sha1_final(&c, out);
}

bool codec_native_verify(const uint8_t stored_hash[20], bool has_password,
                         const uint8_t scramble[20], const uint8_t *token, size_t token_len)
{
    uint8_t mask[SHA1_LEN], candidate[SHA1_LEN], check[SHA1_LEN];
    uint8_t diff = 0;
    unsigned i;

    if (!has_password)
        return token_len == 0;
    if (token_len != SHA1_LEN)
        return false;
    native_mask(scramble, stored_hash, mask);
    for (i = 0; i < SHA1_LEN; i++)
        candidate[i] = token[i] ^ mask[i];
    codec_sha1(candidate, sizeof(candidate), check);
    /* Accumulate every byte difference so the time taken does not reveal
     * how many leading bytes matched. */
    for (i = 0; i < SHA1_LEN; i++)
        diff |= check[i] ^ stored_hash[i];
    memset(candidate, 0, sizeof(candidate));
    return diff == 0;
}

/* For an empty password clients send an empty token instead; callers
 * decide that, this always computes the 20-byte form. */
void codec_native_token(const char *password, size_t len, const uint8_t scramble[20],
                        uint8_t out[20])
{
    uint8_t stage1[SHA1_LEN], stage2[SHA1_LEN], mask[SHA1_LEN];
    unsigned i;

    codec_sha1(password, len, stage1);
    codec_sha1(stage1, sizeof(stage1), stage2);
    native_mask(scramble, stage2, mask);
    for (i = 0; i < SHA1_LEN; i++)
        out[i] = stage1[i] ^ mask[i];
    memset(stage1, 0, sizeof(stage1));
}
