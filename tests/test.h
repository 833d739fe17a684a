/* test.h — a tiny unit-test harness: CHECK macros that record failures with
 * file:line and keep going, and a closing "N passed, N failed" line. */
#ifndef TESSERA_TEST_H
#define TESSERA_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int ts_test_passed, ts_test_failed;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (cond) {                                                                     \
            ts_test_passed++;                                                           \
        } else {                                                                        \
            ts_test_failed++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);    \
        }                                                                               \
    } while (0)

/* Compares doubles with absolute and relative tolerance. */
#define CHECK_NEAR(got, want, atol, rtol)                                               \
    do {                                                                                \
        double g_ = (double)(got), w_ = (double)(want);                                 \
        if (fabs(g_ - w_) <= (atol) + (rtol)*fabs(w_) || (isnan(g_) && isnan(w_))) {    \
            ts_test_passed++;                                                           \
        } else {                                                                        \
            ts_test_failed++;                                                           \
            fprintf(stderr, "%s:%d: %s = %.17g, want %.17g\n", __FILE__, __LINE__, #got, \
                    g_, w_);                                                            \
        }                                                                               \
    } while (0)

#define CHECK_STR(got, want)                                                            \
    do {                                                                                \
        const char *g_ = (got), *w_ = (want);                                           \
        if (g_ && strcmp(g_, w_) == 0) {                                                \
            ts_test_passed++;                                                           \
        } else {                                                                        \
            ts_test_failed++;                                                           \
            fprintf(stderr, "%s:%d: %s = \"%s\", want \"%s\"\n", __FILE__, __LINE__,    \
                    #got, g_ ? g_ : "(null)", w_);                                      \
        }                                                                               \
    } while (0)

/* Checks that haystack contains needle. */
#define CHECK_CONTAINS(haystack, needle)                                                \
    do {                                                                                \
        const char *h_ = (haystack), *n_ = (needle);                                    \
        if (h_ && strstr(h_, n_)) {                                                     \
            ts_test_passed++;                                                           \
        } else {                                                                        \
            ts_test_failed++;                                                           \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,        \
                    __LINE__, h_ ? h_ : "(null)", n_);                                  \
        }                                                                               \
    } while (0)

/* Ends main: prints the closing line and returns the exit status. */
static inline int ts_test_finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, ts_test_passed, ts_test_failed);
    return ts_test_failed ? 1 : 0;
}

#endif
