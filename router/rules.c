/*
 * Rule sets: placeholder until the rule engine lands. Only the no-rules path
 * (every statement to the user's default hostgroup) is implemented.
 */
#include "router/router.h"

#include <stdio.h>
#include <stdlib.h>

int router_rules_compile(const struct router_rule_spec *specs, size_t n, struct router_rules **out,
                         char *errbuf, size_t errlen)
{
    (void)specs;
    *out = NULL;
    if (n == 0)
        return 0;
    snprintf(errbuf, errlen, "query rules are not supported yet");
    return -1;
}

void router_rules_free(struct router_rules *rules)
{
    (void)rules;
}

size_t router_rules_count(const struct router_rules *rules)
{
    (void)rules;
    return 0;
}

int router_rules_rule_id(const struct router_rules *rules, size_t i)
{
    (void)rules;
    (void)i;
    return -1;
}

uint64_t router_rules_hits(const struct router_rules *rules, size_t i)
{
    (void)rules;
    (void)i;
    return 0;
}

struct router_scratch *router_scratch_new(size_t rewrite_cap)
{
    (void)rewrite_cap;
    return NULL;
}

void router_scratch_free(struct router_scratch *scratch)
{
    (void)scratch;
}

int router_classify(const struct router_rules *rules, struct router_scratch *scratch,
                    const struct router_facts *facts, const char *sql, size_t len,
                    struct router_decision *out)
{
    (void)rules;
    (void)scratch;
    out->hostgroup = facts->default_hostgroup;
    out->stmt_flags = router_stmt_flags(sql, len);
    out->digest = 0;
    out->rule_id = -1;
    out->error_msg = NULL;
    out->ok_msg = NULL;
    out->rewritten = NULL;
    out->rewritten_len = 0;
    out->cache_ttl = -1;
    out->timeout_ms = -1;
    out->multiplex = -1;
    return 0;
}
