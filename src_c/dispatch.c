/* The one place where kernels are chosen.  fa_init() fills the per-dtype
 * tables once (at import of the extension); every caller goes through them.
 * Today there is one level, "generic": portable C that the compiler
 * vectorises for the baseline ISA.  ISA-specific levels plug in here. */
#include "fastact.h"

fa_table_f32 fa_f32;
fa_table_f64 fa_f64;

#define FA_FILL(table, SUF)                          \
    do {                                             \
        (table).softmax = fa_softmax_##SUF;          \
        (table).log_softmax = fa_log_softmax_##SUF;  \
        (table).logsumexp = fa_logsumexp_##SUF;      \
        (table).relu = fa_relu_##SUF;                \
        (table).ce_index = fa_ce_index_##SUF;        \
        (table).ce_prob = fa_ce_prob_##SUF;          \
    } while (0)

const char *fa_init(void)
{
    FA_FILL(fa_f32, f32);
    FA_FILL(fa_f64, f64);
    return "generic";
}

const char *fa_compiled_levels(void) { return "generic"; }

ptrdiff_t fa_first_bad_label(const int64_t *label, size_t len, int64_t C, int64_t ignore_index)
{
    for (size_t i = 0; i < len; i++) {
        int64_t t = label[i];
        if ((t < 0 || t >= C) && t != ignore_index) return (ptrdiff_t)i;
    }
    return -1;
}
