/* C-level smoke test of the kernels without Python: softmax, log_softmax,
 * logsumexp (both dtypes, rows from 1 element to past the long-row
 * threshold) and relu against long double, at the best level fa_init picks.
 * Its use is the platforms CI cannot run the Python suite on: built with a
 * cross compiler and run under qemu by tests/c/cross_aarch64.sh, it checks
 * that the portable C path builds warning-free and computes right there. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "fastact.h"
static int bad = 0;
static void check(const char *what, double got, double want, double rtol)
{
    double err = fabs(got - want) / (fabs(want) > 1e-300 ? fabs(want) : 1.0);
    if (!(err <= rtol)) { printf("FAIL %s: got %.17g want %.17g\n", what, got, want); bad++; }
}
int main(void)
{
    printf("level %s\n", fa_level_name(fa_init(NULL)));
    size_t sizes[] = {1, 7, 128, 1000, 33333, 200003};
    for (int si = 0; si < 6; si++) {
        size_t n = sizes[si];
        float *x = malloc(n * 4), *y = malloc(n * 4), ls; double *xd = malloc(n * 8), *yd = malloc(n * 8), lsd;
        for (size_t i = 0; i < n; i++) { xd[i] = 20.0 * sin((double)i * 0.37) + (double)(i % 7); x[i] = (float)xd[i]; }
        long double m = -INFINITY, s = 0, md = -INFINITY, sd = 0;
        for (size_t i = 0; i < n; i++) { if (x[i] > m) m = x[i]; if (xd[i] > md) md = xd[i]; }
        for (size_t i = 0; i < n; i++) { s += expl((long double)x[i] - m); sd += expl((long double)xd[i] - md); }
        fa_reduce(FA_REDUCE_softmax, FA_F32, x, y, 1, n, 1);
        fa_reduce(FA_REDUCE_softmax, FA_F64, xd, yd, 1, n, 1);
        for (size_t i = 0; i < n; i += 1 + n / 50) {
            check("softmax f32", y[i], (double)(expl((long double)x[i] - m) / s), 3e-7);
            check("softmax f64", yd[i], (double)(expl((long double)xd[i] - md) / sd), 1e-15);
        }
        fa_reduce(FA_REDUCE_log_softmax, FA_F32, x, y, 1, n, 1);
        fa_reduce(FA_REDUCE_log_softmax, FA_F64, xd, yd, 1, n, 1);
        for (size_t i = 0; i < n; i += 1 + n / 50) {
            check("log_softmax f32", y[i], (double)((long double)x[i] - m - logl(s)), 3e-7);
            check("log_softmax f64", yd[i], (double)((long double)xd[i] - md - logl(sd)), 1e-15);
        }
        fa_reduce(FA_REDUCE_logsumexp, FA_F32, x, &ls, 1, n, 1);
        fa_reduce(FA_REDUCE_logsumexp, FA_F64, xd, &lsd, 1, n, 1);
        check("logsumexp f32", ls, (double)(m + logl(s)), 3e-7);
        check("logsumexp f64", lsd, (double)(md + logl(sd)), 1e-15);
        fa_map(FA_MAP_relu, FA_F32, x, y, n, 0.0);
        for (size_t i = 0; i < n; i++) if (y[i] != (x[i] > 0 ? x[i] : 0.0f)) { printf("FAIL relu\n"); bad++; break; }
        free(x); free(y); free(xd); free(yd);
    }
    printf(bad ? "%d failures\n" : "all good\n", bad);
    return bad != 0;
}
