/* See plain.h.  Only fastact_api.h: no other fastact header, no link. */
#include "fastact_api.h"

#include <string.h>

#include "plain.h"

int plain_import(void) { return fastact_import(); }

const char *plain_level(void) { return fastact_kernel_level(); }

#define IS(s) (strcmp(name, s) == 0)
/* one call, float or double (the void pointers convert implicitly in C) */
#define BOTH(f, ...) (f64 ? f##_f64(__VA_ARGS__) : f##_f32(__VA_ARGS__))

int plain_call(const char *name, int f64, void *const *p, const size_t *s, const double *d,
               int64_t i, int flag)
{
    if (IS("softmax")) return BOTH(fastact_softmax, p[0], p[1], s[0], s[1], s[2]);
    if (IS("log_softmax")) return BOTH(fastact_log_softmax, p[0], p[1], s[0], s[1], s[2]);
    if (IS("logsumexp")) return BOTH(fastact_logsumexp, p[0], p[1], s[0], s[1], s[2]);
    if (IS("softmax_backward"))
        return BOTH(fastact_softmax_backward, p[0], p[1], p[2], s[0], s[1], s[2]);
    if (IS("log_softmax_backward"))
        return BOTH(fastact_log_softmax_backward, p[0], p[1], p[2], s[0], s[1], s[2]);
    if (IS("relu")) return BOTH(fastact_relu, p[0], p[1], s[0]);
    if (IS("leaky_relu")) return BOTH(fastact_leaky_relu, p[0], p[1], s[0], d[0]);
    if (IS("sigmoid")) return BOTH(fastact_sigmoid, p[0], p[1], s[0]);
    if (IS("relu_backward")) return BOTH(fastact_relu_backward, p[0], p[1], p[2], s[0]);
    if (IS("leaky_relu_backward"))
        return BOTH(fastact_leaky_relu_backward, p[0], p[1], p[2], s[0], d[0]);
    if (IS("sigmoid_backward")) return BOTH(fastact_sigmoid_backward, p[0], p[1], p[2], s[0]);
    if (IS("first_bad_label"))
        return fastact_first_bad_label((const int64_t *)p[0], s[0], s[1], i, (ptrdiff_t *)p[1]);
    if (IS("cross_entropy"))
        return BOTH(fastact_cross_entropy, p[0], (const int64_t *)p[1], (const double *)p[2],
                    s[0], s[1], s[2], i, d[0], p[3], (double *)p[4], (double *)p[5]);
    if (IS("cross_entropy_prob"))
        return BOTH(fastact_cross_entropy_prob, p[0], p[1], (const double *)p[2], s[0], s[1],
                    s[2], d[0], p[3], (double *)p[4]);
    if (IS("cross_entropy_grad"))
        return BOTH(fastact_cross_entropy_grad, p[0], (const int64_t *)p[1],
                    (const double *)p[2], s[0], s[1], s[2], i, d[0], flag, d[1],
                    (const double *)p[3], p[4], p[5], (double *)p[6], (double *)p[7]);
    if (IS("cross_entropy_prob_grad"))
        return BOTH(fastact_cross_entropy_prob_grad, p[0], p[1], (const double *)p[2], s[0],
                    s[1], s[2], d[0], flag, d[1], (const double *)p[3], p[4], p[5],
                    (double *)p[6]);
    if (IS("bce"))
        return BOTH(fastact_binary_cross_entropy_with_logits, p[0], p[1], p[2], s[0], s[1],
                    p[3], s[2], s[3], s[4], s[5], p[4], (double *)p[5]);
    if (IS("bce_grad"))
        return BOTH(fastact_binary_cross_entropy_with_logits_grad, p[0], p[1], p[2], s[0], s[1],
                    p[3], s[2], s[3], s[4], s[5], flag, d[0], p[4], p[5], p[6], (double *)p[7]);
    return -100;
}
