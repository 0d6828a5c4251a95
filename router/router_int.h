/*
 * Router internals shared by the router's sources and its unit tests. Not part
 * of the module's contract: proxy/ and admin/ include only router/router.h.
 */
#ifndef SLUICE_ROUTER_ROUTER_INT_H
#define SLUICE_ROUTER_ROUTER_INT_H

#include "router/router.h"

#include <stdbool.h>
#include <stddef.h>

/* Bound on the digest work of the rule engine: router_classify() looks at no
 * more than this many query bytes and keeps at most this much digest text
 * (in the scratch) when a rule uses match_digest or digest. */
#define ROUTER_RULES_DIGEST_MAX (64u * 1024u)

/* Capture pairs in a scratch's PCRE2 match data. Fixed so that a scratch does
 * not depend on the rule set it is used with; a replace_pattern rule whose
 * match_pattern has more capture groups is rejected at compile. */
#define ROUTER_RULES_OVEC_PAIRS 64u

/* Whether the i-th rule (evaluation order) tests its match_pattern with the
 * literal-prefix fast path instead of PCRE2. For tests and for explaining a
 * decision; false when i is out of range. */
bool router_rules_is_prefix(const struct router_rules *rules, size_t i);

#endif
