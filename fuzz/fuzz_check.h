/*
 * fuzz_check — invariants the fuzz harnesses assert on generated mcrouter
 * configurations. A violation aborts (libFuzzer records the input).
 */
#ifndef MEMSHACK_FUZZ_CHECK_H
#define MEMSHACK_FUZZ_CHECK_H

#include <stddef.h>

/*
 * `text` must be valid JSON with "pools" and a "route"; every server string
 * in every pool is acceptable to mcrouter_server_valid(); no string or key
 * anywhere starts with '@' (an mcrouter macro call) or contains '%' (a JSONM
 * substitution); the pools hold `want_servers` servers in all (or at least
 * one, when want_servers is 0). Returns the number of servers.
 */
size_t fuzz_check_mcrouter_config(const char *text, size_t want_servers);

#endif
