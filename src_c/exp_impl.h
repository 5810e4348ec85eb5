/* Template (see dtype.h): y[j] = exp(d[j]) for d[j] <= 0 (-inf included) or
 * NaN, with the exponential the level's kernels use (the float32 kernels'
 * own float32 exponential at levels with hand-written rows, else the
 * portable double one rounded to T).  Not used by the ops: it exposes the
 * exponential to the accuracy sweep of the tests (tests/test_exp.py). */
#include "reduce_impl.h"

#ifndef FA_HAND_EXP
#define FA_HAND_EXP 0
#endif

void FA_FN(exp_nonpos)(const T *d, T *y, size_t n)
{
#if FA_HAND_EXP
    FA_HFN(exp_row)(d, y, n);
#else
    for (size_t j = 0; j < n; j++) y[j] = (T)FA_EXP((double)d[j], 0.0);
#endif
}
