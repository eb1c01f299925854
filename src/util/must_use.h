/*
 * must_use — MEMSHACK_MUST_USE marks a function whose result must not be
 * ignored: an error code a caller has to act on (fail closed), or memory it
 * has to free. The compiler refuses a call that drops it (-Werror).
 */
#ifndef MEMSHACK_UTIL_MUST_USE_H
#define MEMSHACK_UTIL_MUST_USE_H

#define MEMSHACK_MUST_USE __attribute__((warn_unused_result))

/*
 * Drops such a result on purpose, where dropping it is correct; say why
 * beside it. (GCC does not take a (void) cast as that.)
 */
#define MEMSHACK_IGNORE_RESULT(call) \
	do {                         \
		if (call) {          \
		}                    \
	} while (0)

#endif
