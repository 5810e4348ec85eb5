/* The one place where kernels are chosen.  fa_init() fills the per-dtype
 * tables once (at import of the extension, before any kernel runs); every
 * caller goes through them.  A level's table starts from the portable
 * kernels compiled for that level (instantiate.h); hand-written kernels for
 * the level replace entries here. */
#include <string.h>

#include "fastact.h"

fa_table_f32 fa_f32;
fa_table_f64 fa_f64;

static const char *const level_names[] = {"scalar", "sse2", "avx2", "avx512"};

const char *fa_level_name(int level)
{
    return (level >= 0 && level <= FA_LEVEL_AVX512) ? level_names[level] : NULL;
}

const char *fa_compiled_levels(void)
{
#if FA_HAVE_X86_LEVELS
    return "scalar sse2 avx2 avx512";
#else
    return "scalar";
#endif
}

#define FA_FILL(table, SUF)                          \
    do {                                             \
        (table).softmax = fa_softmax_##SUF;          \
        (table).log_softmax = fa_log_softmax_##SUF;  \
        (table).logsumexp = fa_logsumexp_##SUF;      \
        (table).relu = fa_relu_##SUF;                \
        (table).exp_nonpos = fa_exp_nonpos_##SUF;    \
        (table).ce_index = fa_ce_index_##SUF;        \
        (table).ce_prob = fa_ce_prob_##SUF;          \
        (table).chunk_stats = fa_chunk_stats_##SUF;  \
        (table).chunk_scale = fa_chunk_scale_##SUF;  \
        (table).chunk_exp_scale = fa_chunk_exp_scale_##SUF; \
        (table).chunk_log_softmax_out = fa_chunk_log_softmax_out_##SUF; \
        (table).logsumexp_row_finish = fa_logsumexp_row_finish_##SUF; \
        (table).cols_range[FA_OP_SOFTMAX] = fa_softmax_cols_range_##SUF; \
        (table).cols_range[FA_OP_LOG_SOFTMAX] = fa_log_softmax_cols_range_##SUF; \
        (table).cols_range[FA_OP_LOGSUMEXP] = fa_logsumexp_cols_range_##SUF; \
    } while (0)

int fa_init(const char *request)
{
    int level = fa_cpu_level();
    if (request && *request) {
        int want = -1;
        for (int i = 0; i <= FA_LEVEL_AVX512; i++)
            if (strcmp(request, level_names[i]) == 0) want = i;
        if (want < 0) return -1;
        if (want < level) level = want;
    }
    FA_FILL(fa_f32, f32_scalar);
    FA_FILL(fa_f64, f64_scalar);
#if FA_HAVE_X86_LEVELS
    if (level == FA_LEVEL_SSE2) {
        FA_FILL(fa_f32, f32_sse2);
        FA_FILL(fa_f64, f64_sse2);
    } else if (level == FA_LEVEL_AVX2) {
        FA_FILL(fa_f32, f32_avx2);
        FA_FILL(fa_f64, f64_avx2);
    } else if (level == FA_LEVEL_AVX512) {
        FA_FILL(fa_f32, f32_avx512);
        FA_FILL(fa_f64, f64_avx512);
    }
#else
    level = FA_LEVEL_SCALAR;
#endif
    return level;
}

ptrdiff_t fa_first_bad_label(const int64_t *label, size_t len, int64_t C, int64_t ignore_index)
{
    for (size_t i = 0; i < len; i++) {
        int64_t t = label[i];
        if ((t < 0 || t >= C) && t != ignore_index) return (ptrdiff_t)i;
    }
    return -1;
}
