/* Bugs planted in sanitizer builds only (runtime/planted.h).  .ci/run's
 * sanitizer runs call them (tests/test_sanitizers_catch.py) to show that the
 * instrumented build, the preloaded runtime and the halt options do report
 * an out-of-bounds read and undefined behaviour in code compiled as the
 * kernels are: a sanitizer run that reports nothing means something.  Any
 * other build compiles them to nothing. */
#include <limits.h>

#include "runtime/planted.h"

#ifdef FA_SANITIZER_BUILD
int fa_sanitizer_build(void) { return 1; }

int fa_planted_bug(int kind, const double *x, size_t n)
{
    if (kind == 1) {
        volatile const double *p = x;
        return (int)p[n]; /* one past the end */
    }
    if (kind == 2) {
        volatile int i = INT_MAX;
        return i + (int)n; /* signed overflow for n > 0 */
    }
    return 0;
}
#else
int fa_sanitizer_build(void) { return 0; }

int fa_planted_bug(int kind, const double *x, size_t n)
{
    (void)kind, (void)x, (void)n;
    return -1;
}
#endif
