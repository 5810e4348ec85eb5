/* Template (see dtype.h): y = IEEE 754-2019 maximum(x, +0.0), one streaming
 * pass.  !(x <= 0) keeps x > 0 and NaN (bits untouched, signalling NaN
 * included); everything else, -0.0 included, becomes +0.0. */
#include "dtype.h"

void FA_FN(relu)(const T *x, T *y, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        T v = x[i];
        y[i] = !(v <= 0) ? v : (T)0;
    }
}
