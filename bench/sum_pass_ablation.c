/* Ablation of the float32 exp-and-sum pass at the avx2 level: what each
 * part of the accuracy contract costs per element, on rows that stay in L1
 * (the compute-bound case of short rows, issue 17).  Not part of the
 * library: a standalone program over the level's primitives
 * (src_c/simd/avx2.h), on x86-64 CPUs with AVX2 and FMA:
 *
 *   gcc -O3 -ffp-contract=off -fno-trapping-math -Isrc_c bench/sum_pass_ablation.c \
 *       -o /tmp/sum_pass_ablation -lm && /tmp/sum_pass_ablation [ROWS N REPS]
 *
 * Each variant runs the pass's step over U_SUM vectors as ops/vec_passes.h
 * does (rows of N, a multiple of 32, default 64 rows of 128), storing
 * exp(x - m) as softmax does; the time is the best of REPS runs over all
 * rows, in ns per element:
 *   library    x - m exact (TwoSum), the general exponential, double sums
 *              with the maxima counted apart (the library's general pass)
 *   narrow     the same with the narrow exponential (the library's pass on
 *              rows within 86 of their max; bit for bit the same results)
 *   no-count   the general pass without the count of the maxima (s - 1
 *              loses its relative accuracy for one dominant class)
 *   float-sum  exact x - m and the general exponential, summed in float32
 *   plain      x - m rounded, the exponential, a float32 sum: what a
 *              library without the accuracy contract does (ONNX Runtime's
 *              float32 softmax is of this kind)
 * plus the max and scale passes for scale.  Single runs vary 10-20% on a
 * shared machine: compare variants within one run. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#pragma GCC target("avx2,fma")
#include "simd/avx2.h"

enum { U = fa_avx2_f32_U_SUM, VL = 8 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* kind: 0 library, 1 narrow, 2 no-count, 3 float-sum, 4 plain */
FA_ALWAYS_INLINE double sum_pass(int kind, const float *x, float *y, size_t n, float m)
{
    const __m256 mv = _mm256_set1_ps(m), zero = _mm256_setzero_ps();
    __m256d acc[U];
    __m256 facc[U];
    __m256i cnt = _mm256_setzero_si256();
    for (int i = 0; i < U; i++) {
        acc[i] = _mm256_setzero_pd();
        facc[i] = zero;
    }
    for (size_t j = 0; j + U * VL <= n; j += U * VL) {
        __m256 hi[U], lo[U], e[U];
        for (int i = 0; i < U; i++) {
            __m256 xv = _mm256_loadu_ps(x + j + i * VL);
            if (kind == 4) {
                hi[i] = _mm256_sub_ps(xv, mv);
                lo[i] = zero;
            } else {
                hi[i] = fa_vtwo_diff_f32_avx2(xv, mv, &lo[i]);
            }
        }
        if (kind == 1) fa_vexpn_narrow_f32_avx2(U, hi, lo, e);
        else fa_vexpn_f32_avx2(U, hi, lo, e);
        for (int i = 0; i < U; i++) {
            if (kind <= 1) {
                fa_avx2_f32_acc_add(&acc[i], e[i], hi[i], NULL, &cnt);
            } else if (kind == 2) {
                acc[i] = _mm256_add_pd(acc[i], _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(e[i])),
                                                             _mm256_cvtps_pd(_mm256_extractf128_ps(e[i], 1))));
            } else {
                facc[i] = _mm256_add_ps(facc[i], e[i]);
            }
            _mm256_storeu_ps(y + j + i * VL, e[i]);
        }
    }
    if (kind <= 1) return fa_avx2_f32_acc_finish(acc, fa_avx2_f32_cnt_total(cnt));
    __m256d s = acc[0];
    for (int i = 1; i < U; i++) s = _mm256_add_pd(s, acc[i]);
    __m256 f = facc[0];
    for (int i = 1; i < U; i++) f = _mm256_add_ps(f, facc[i]);
    s = _mm256_add_pd(s, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(f)),
                                       _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1))));
    return fa_reduce_add_pd_avx2(s) - 1.0;
}

#define VARIANT(name, kind)                                                                   \
    __attribute__((noinline)) static double name(const float *x, float *y, size_t n, float m) \
    {                                                                                         \
        return sum_pass(kind, x, y, n, m);                                                    \
    }
VARIANT(pass_library, 0)
VARIANT(pass_narrow, 1)
VARIANT(pass_no_count, 2)
VARIANT(pass_float_sum, 3)
VARIANT(pass_plain, 4)

__attribute__((noinline)) static double pass_max(const float *x, float *y, size_t n, float m)
{
    (void)y;
    (void)m;
    __m256 a[4];
    for (int i = 0; i < 4; i++) a[i] = _mm256_set1_ps(-INFINITY);
    for (size_t j = 0; j + 4 * VL <= n; j += 4 * VL)
        for (int i = 0; i < 4; i++) a[i] = _mm256_max_ps(_mm256_loadu_ps(x + j + i * VL), a[i]);
    return fa_reduce_max_ps_avx2(_mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3])));
}

__attribute__((noinline)) static double pass_scale(const float *x, float *y, size_t n, float m)
{
    (void)x;
    fa_avx2_f32_scale_k k = fa_avx2_f32_scale_prep(1.0 / (1.0 + m));
    for (size_t j = 0; j + VL <= n; j += VL)
        _mm256_storeu_ps(y + j, fa_avx2_f32_scale(_mm256_loadu_ps(y + j), &k));
    return 0.0;
}

int main(int argc, char **argv)
{
    size_t rows = argc > 1 ? (size_t)atol(argv[1]) : 64, n = argc > 2 ? (size_t)atol(argv[2]) : 128;
    int reps = argc > 3 ? atoi(argv[3]) : 300;
    if (rows == 0 || n == 0 || n % (U * VL) || reps < 1) {
        fprintf(stderr, "usage: %s [ROWS N REPS] (N a multiple of %d)\n", argv[0], U * VL);
        return 2;
    }
    float *x = aligned_alloc(64, rows * n * sizeof(float)), *y = aligned_alloc(64, rows * n * sizeof(float));
    if (!x || !y) return 1;
    srand(1);
    for (size_t i = 0; i < rows * n; i++) x[i] = (float)(rand() / (double)RAND_MAX * 6.0 - 3.0);
    struct { const char *name; double (*f)(const float *, float *, size_t, float); } v[] = {
        {"max", pass_max},           {"library", pass_library},     {"narrow", pass_narrow},
        {"no-count", pass_no_count}, {"float-sum", pass_float_sum}, {"plain", pass_plain},
        {"scale", pass_scale},
    };
    volatile double sink = 0.0;
    printf("%zu rows of %zu float32 (%.0f KiB in, as much out), best of %d; ns per element:\n", rows, n,
           rows * n * 4.0 / 1024, reps);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t = now();
            for (size_t i = 0; i < rows; i++) sink += v[k].f(x + i * n, y + i * n, n, 3.0f);
            t = now() - t;
            best = t < best ? t : best;
        }
        printf("  %-10s %.3f\n", v[k].name, best / (double)(rows * n) * 1e9);
    }
    free(x);
    free(y);
    return sink == 12345.0;
}
