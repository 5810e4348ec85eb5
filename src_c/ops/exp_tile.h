/* Part of the op templates (see ops/dtype.h): exp of a tile of doubles in
 * place, for the element-wise ops that compute in double for both dtypes
 * (sigmoid, binary cross-entropy with logits).  Defines FA_VD (the level's
 * float64 traits) at the SIMD levels. */
#include "ops/dtype.h"
#include "simd/fa_math.h"

#if FA_VEC
#undef FA_VD
#define FA_VD(name) FA_CAT4(fa_, FA_ISA, _f64_, name)
#endif

/* d[j] = exp(d[j]) for d[j] <= 0 (-inf included) or NaN, j < n <= FA_TILE:
 * the level's vector exponential of float64 (< 1 ULP).  At the scalar level
 * the portable one: float64's (degree 13, < 1 ULP) when f64_exp, else the
 * dtype's (float32: degree 9, 2^-37 relative, invisible after a float32
 * rounding); f64_exp is a constant at every call. */
static inline void FA_FN(exp_tile_d)(double *d, size_t n, int f64_exp)
{
#if FA_VEC
    (void)f64_exp;
    enum { U = FA_VD(U_SUM), L = FA_VD(LANES) };
    FA_VD(t) hi[U], lo[U], e[U];
    for (int i = 0; i < U; i++) lo[i] = FA_VD(set1)(0.0);
    size_t j = 0;
    for (; j + U * L <= n; j += U * L) {
        for (int i = 0; i < U; i++) hi[i] = FA_VD(loadu)(d + j + i * L);
        FA_VD(expn)(U, hi, lo, e);
        for (int i = 0; i < U; i++) FA_VD(storeu)(d + j + i * L, e[i]);
    }
    for (; j + L <= n; j += L) {
        hi[0] = FA_VD(loadu)(d + j);
        FA_VD(expn)(1, hi, lo, e);
        FA_VD(storeu)(d + j, e[0]);
    }
    if (j < n) {
        hi[0] = FA_VD(load_part)(d + j, n - j, 0.0);
        FA_VD(expn)(1, hi, lo, e);
        FA_VD(store_part)(d + j, n - j, e[0]);
    }
#else
    if (f64_exp)
        for (size_t j = 0; j < n; j++) d[j] = fa_exp_nonpos_f64(d[j], 0.0);
    else
        for (size_t j = 0; j < n; j++) d[j] = FA_EXP(d[j], 0.0);
#endif
}
