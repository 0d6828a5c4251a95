/* KILL as Sluice answers it (proxy/kill.c): which texts name a session id
 * and which go on to the server; and the sequence number of a reply to a
 * 16 MiB+ message (proxy/refusal.c), which must follow the message's last
 * packet. No sockets. */
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

#include "proxy/proxy_int.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_kill_parse(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        long long id;
        bool query;
    } cases[] = {
        {"KILL 5", 5, false},
        {"kill connection 12;", 12, false},
        {"  KILL\tQUERY   7 ; ", 7, true},
        {"KILL HARD QUERY 9", 9, true},
        {"kill soft connection 4294967295", 4294967295LL, false},
        {"KILL 4294967296", -1, false},
        {"KILL QUERY ID 5", -1, true},
        {"KILL USER app", -1, false},
        {"KILL", -1, false},
        {"KILL 5; SELECT 1", -1, false},
        {"KILLER 5", -1, false},
        {"KILL CONNECTION_ID()", -1, false},
        {"SELECT 1", -1, false},
    };
    for (size_t i = 0; i < N(cases); i++) {
        bool query = false;
        long long id = kill_parse(cases[i].sql, strlen(cases[i].sql), &query);
        if (id != cases[i].id)
            fail_msg("%s: id %lld, expected %lld", cases[i].sql, id, cases[i].id);
        if (id >= 0)
            assert_int_equal(query, cases[i].query);
    }
}

/* A message of n packets: the reply is numbered n (mod 256). */
static void test_reply_seq(void **state)
{
    (void)state;
    struct session *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    static const uint8_t one[] = {1, 0, 0, 0, 0x0e};
    s->in.data = (uint8_t *)one;
    s->in.len = s->cmd_len = sizeof(one);
    assert_int_equal(session_reply_seq(s), 1);
    /* Three packets: 0xffffff, 0xffffff, 2 bytes; only headers matter. */
    size_t len = 3 * 4 + 2u * 0xffffff + 2;
    uint8_t *m = calloc(1, len);
    assert_non_null(m);
    size_t pos = 0;
    for (uint8_t seq = 0; seq < 3; seq++) {
        uint32_t plen = seq < 2 ? 0xffffff : 2;
        m[pos] = plen & 0xff;
        m[pos + 1] = (plen >> 8) & 0xff;
        m[pos + 2] = (plen >> 16) & 0xff;
        m[pos + 3] = seq;
        pos += 4 + plen;
    }
    s->in.data = m;
    s->in.len = s->cmd_len = len;
    assert_int_equal(session_reply_seq(s), 3);
    free(m);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_parse),
        cmocka_unit_test(test_reply_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
