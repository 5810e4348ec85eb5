/* Op template (instantiated per dtype and level, ops/instantiate.h): the
 * logistic sigmoid y = 1 / (1 + exp(-x)), in double for both dtypes, over
 * tiles of FA_TILE elements:
 *   e = exp(-|x|) in (0, 1] (never overflows; -inf or NaN pass through),
 *   y = x >= 0 ? 1 / (1 + e) : e / (1 + e),
 * so there is no overflow and no 0/0: sigmoid(+inf) = 1, sigmoid(-inf) = 0,
 * NaN -> NaN, -0.0 -> 0.5, and a tiny result (x < -37) is e itself (1 + e
 * rounds to 1), as small as exp makes it, subnormals rounded once.
 * The exponential is the only per-level part: the level's vector exp of
 * float64 (simd/<isa>.h, through its traits expn / loadu / storeu / load_part
 * / store_part) on a stack tile of -|x|; the portable exp of fa_math.h at
 * the scalar level.  The rest is plain C the compiler vectorises.
 * Error (float64): with e off by c ULP (c <= 0.52 at avx512, < 0.96 at the
 * other levels: tests/test_exp.py), x >= 0: the roundings of 1 + e
 * (<= 2^-53 absolute) and of the quotient (0.5 ULP) and e's error damped by
 * e / (1 + e)^2 <= 1/4: <= 1.5 ULP worst case; x < 0: e's error passes
 * through scaled by 1 / (1 + e), plus 1 + e and the quotient: <= c + 1.5
 * ULP in theory (the ULPs of e and y may differ by a binade), measured
 * 1.90 ULP with the Fast2Sum correction below (tests/test_elementwise.py).
 * float32 at the levels with FMA (avx2, avx512): in float32 pairs, one
 * vector pass (FA_VMAP1 over vsigmoid below): <= 0.75 ULP for normal
 * results, 0.875 for subnormal ones.  float32 at the other levels (scalar,
 * sse2): in double with 1 / (1 + e) by Newton steps instead of the division
 * (2^-32.5 relative, see below), rounded once: <= 0.5 ULP + 2^-8.5 (measured
 * 0.5024 on 4M points).  Measured at avx2 (AVX2-only EPYC, one thread,
 * 2^24 elements, alternating builds): 21 ms in float32 pairs against 43-49
 * ms in float64; still compute-bound (1.6-2.0x np.copyto). */
#ifndef FA_TEMPLATE
#define FA_TEMPLATE "ops/sigmoid.c"
#include "ops/instantiate.h"
#else
#include "ops/dtype.h"
#include "simd/fa_math.h"
#include "ops/exp_tile.h"
#if FA_VEC
#include "ops/map_passes.h"
#endif

#if FA_VEC && FA_DTYPE == 32 && FA_V(FMA)
#define FA_SIGMOID_FF 1
typedef struct { FA_V(t) zero, one, c64, m64; } FA_FN(vsig_k);
/* sigmoid of one vector in float32 pairs.  e = exp(-|x|) = 2^n (eh + el)
 * to 2^-26 relative (the level's exp_ff); P = 2^(n + 64) is normal (n >=
 * -151), so 2^n v is v P 2^-64: the first product exact, the second the
 * only rounding (a subnormal result rounded once).
 * D = 1 + e = dh + dl: 1 + a by Fast2Sum (a = 2^n eh <= 1; below 2^-126,
 * where a may round, D = 1 to 2^-100 anyway) plus b = 2^n el, |dl| <= 2^-23.
 * q = 1 / dh rounded; rho = 1 - D q with 1 - dh q exact (FMA), |rho| <=
 * 2^-22.4, so q (1 + rho) = 1 / D to 2^-44.
 * x >= 0: y = q + q rho, one rounding of 1 / D.  D's relative error is e's
 * times e / (1 + e) <= 1/2: y within 0.5 + 2^-27 / 2^-24 = 0.625 ULP.
 * x < 0: y = e / D = 2^n (ph + t): eh q = ph + pl exactly (FMA), t = pl +
 * eh q rho + el q (two roundings of terms <= 2^-21 ph: 2^-45), rounded once
 * in ph + t, then scaled; e's error passes through times 1 / (1 + e) <= 1:
 * within 0.5 + 2^-26 / 2^-24 = 0.75 ULP, subnormal results 0.875 (the
 * 24-bit rounding before the scale's costs at most half their ULP).
 * NaN: e is NaN (so are both branches); x = +-inf: e = exp(-104), y = 1 or
 * 0; -0.0 >= 0: y = 1 / 2. */
static inline FA_V(t) FA_FN(vsigmoid)(FA_FN(vsig_k) k, FA_V(t) x)
{
    FA_V(t) el, n;
    FA_V(t) eh = FA_V(exp_ff)(FA_V(negabs)(x), &el, &n);
    FA_V(t) P = FA_V(pow2)(FA_V(add)(n, k.c64));
    FA_V(t) a = FA_V(mul)(FA_V(mul)(eh, P), k.m64);
    FA_V(t) b = FA_V(mul)(FA_V(mul)(el, P), k.m64);
    FA_V(t) dh = FA_V(add)(k.one, a);
    FA_V(t) dl = FA_V(add)(FA_V(add)(FA_V(sub)(k.one, dh), a), b);
    FA_V(t) q = FA_V(div)(k.one, dh);
    FA_V(t) rho = FA_V(fnmadd)(dl, q, FA_V(fnmadd)(dh, q, k.one));
    FA_V(t) ypos = FA_V(fmadd)(q, rho, q);
    FA_V(t) ph = FA_V(mul)(eh, q);
    FA_V(t) t = FA_V(fmadd)(eh, FA_V(mul)(q, rho), FA_V(fmsub)(eh, q, ph));
    t = FA_V(fmadd)(el, q, t);
    FA_V(t) yneg = FA_V(mul)(FA_V(mul)(FA_V(add)(ph, t), P), k.m64);
    return FA_V(blend)(yneg, ypos, FA_V(ge)(x, k.zero));
}
#else
#define FA_SIGMOID_FF 0
#endif

static void FA_FN(sigmoid_typed)(const T *x, T *y, size_t len, double p)
{
    (void)p;
#if FA_SIGMOID_FF
    const FA_FN(vsig_k) k = {FA_V(set1)(0.0f), FA_V(set1)(1.0f), FA_V(set1)(64.0f),
                             FA_V(set1)(0x1p-64f)};
    FA_VMAP1(x, y, len, FA_FN(vsigmoid), k);
#else
    double e[FA_TILE];
#if FA_VEC
    /* large outputs: each tile computed into o, then streamed to y
     * (ops/map_passes.h); the first tile ends at a vector boundary of y */
    T o[FA_TILE];
    /* not for float64: compute-bound there, and the streamed tiles measured
     * slower (3.1-3.5 vs 2.4-2.7 ns per element at 2^24, avx512) */
    const int st = FA_DTYPE == 32 && FA_FN(vstream_ok)(y, len);
    const size_t first = FA_FN(vtile_first)(y, st);
#else
    const int st = 0;
    const size_t first = FA_TILE;
#endif
    size_t n;
    for (size_t j0 = 0; j0 < len; j0 += n) {
        n = j0 == 0 ? first : FA_TILE;
        if (n > len - j0) n = len - j0;
        const T *xs = x + j0;
#if FA_VEC
        T *ys = st ? o : y + j0;
#else
        T *ys = y + j0;
#endif
        for (size_t j = 0; j < n; j++) e[j] = -fabs((double)xs[j]);
        FA_FN(exp_tile_d)(e, n, 0);
        /* y may be x: each element is read before its own store */
        for (size_t j = 0; j < n; j++) {
            double ej = e[j];
            int pos = xs[j] >= 0;
            /* 1 + e = d + dl exactly (Fast2Sum, 1 >= e); q = num / d, then
             * num / (d + dl) = q (1 - dl / d) to 2^-106: the rounding of
             * 1 + e (up to 1 ULP of y) is removed, leaving e's error, the
             * quotient's and the last sum's (measured <= 1.90 ULP at every
             * level).  One division: 1 / d is q itself (x >= 0) or 1 - q
             * (x < 0: 1/d = 1 - e/d; q <= 1/2 is off by 2^-53 relative, so
             * 1 - q by <= 2^-53 of 1/d >= 1/2); a relative error 2^-52 in
             * the correction term (itself <= 2^-53 q) moves the result by
             * <= 2^-105 q. */
#if FA_DTYPE == 32
            /* float32: no division (it was half the time per element).
             * 1/d for d = 1 + e in [1, 2] (rounded: 2^-53 relative) by
             * Newton's r <- r (2 - d r) from r0 = 24/17 - 8/17 d (relative
             * error <= 1/17 on [1, 2]); each step squares the error:
             * (1/17)^8 < 2^-32.7, plus ~2^-51 of roundings.  So num * r is
             * within 2^-32.5 relative of the exact sigmoid (e's own error,
             * <= 2^-52, included), and its rounding to float32 within
             * 0.5 + 2^-8.5 ULP (a value that close to a midpoint may round
             * the other way than the exact one).  NaN stays NaN; e = 0
             * gives exactly 0 (x = -inf) or 1 - 2^-33, which rounds to 1. */
            double d = 1.0 + ej;
            double r = 24.0 / 17.0 - (8.0 / 17.0) * d;
            r = r * (2.0 - d * r);
            r = r * (2.0 - d * r);
            r = r * (2.0 - d * r);
            ys[j] = (T)((pos ? 1.0 : ej) * r);
#else
            double d = 1.0 + ej;
            double dl = (1.0 - d) + ej;
            double q = (pos ? 1.0 : ej) / d;
            double r = pos ? q : 1.0 - q;
            ys[j] = (T)(q - q * (dl * r));
#endif
        }
#if FA_VEC
        if (st) FA_FN(vput_tile)(o, y + j0, n, st);
#endif
    }
#if FA_VEC
    if (st) FA_V(fence)();
#else
    (void)st;
#endif
#endif /* FA_SIGMOID_FF */
}
#undef FA_SIGMOID_FF

FA_EXPORT_MAP(sigmoid)
#endif /* FA_TEMPLATE */
