/* The one place where kernels are chosen.  The tables of every compiled
 * level are static data generated from the registry (ops.def); fa_init()
 * points fa_active at one level's tables once, at import of the extension
 * and before any kernel runs, and every caller goes through them. */
#include <string.h>

#include "kernels.h"

static const char *const level_names[FA_NUM_LEVELS] = {"scalar", "sse2", "avx2", "avx512"};

#define FA_TAB_REDUCE_(name, out, dt, lvl) FA_K(name, dt, lvl),
#define FA_TAB_COLS_(name, out, dt, lvl) FA_K(name##_columns, dt, lvl),
#define FA_TAB_(name, dt, lvl) FA_K(name, dt, lvl),
#define FA_TAB_COLS2_(name, dt, lvl) FA_K(name##_columns, dt, lvl),
#define FA_TAB_MASKED_(name, dt, lvl) FA_K(name##_masked, dt, lvl),
#define FA_TABLE_(dt, lvl)                                                      \
    {                                                                           \
        .esize = sizeof(FA_CTYPE_##dt),                                         \
        .reduce = {FA_REDUCE_OPS(FA_TAB_REDUCE_, dt, lvl)},                     \
        .cols = {FA_REDUCE_OPS(FA_TAB_COLS_, dt, lvl)},                         \
        .map = {FA_MAP_OPS(FA_TAB_, dt, lvl)},                                  \
        .loss = {FA_LOSS_OPS(FA_TAB_, dt, lvl)},                                \
        .loss_grad = {FA_LOSS_GRAD_OPS(FA_TAB_, dt, lvl)},                      \
        .map2 = {FA_MAP2_OPS(FA_TAB_, dt, lvl)},                                \
        .long_row = &FA_K(long_row, dt, lvl),                                    \
        .reduce2 = {FA_REDUCE2_OPS(FA_TAB_, dt, lvl)},                          \
        .cols2 = {FA_REDUCE2_OPS(FA_TAB_COLS2_, dt, lvl)},                      \
        .elem_loss = {FA_ELEM_LOSS_OPS(FA_TAB_, dt, lvl)},                      \
        .masked = {FA_MASKED_OPS(FA_TAB_MASKED_, dt, lvl)},                     \
        .ce_block = &FA_K(ce_block, dt, lvl),                                    \
    },
#define FA_CTYPE_f32 float
#define FA_CTYPE_f64 double
#define FA_LEVEL_TABLES_(lvl, a) [FA_LEVEL_ID_##lvl] = {FA_DTYPES(FA_TABLE_, lvl)},
#define FA_LEVEL_ID_scalar FA_LEVEL_SCALAR
#define FA_LEVEL_ID_sse2 FA_LEVEL_SSE2
#define FA_LEVEL_ID_avx2 FA_LEVEL_AVX2
#define FA_LEVEL_ID_avx512 FA_LEVEL_AVX512

/* [level][dtype]; levels not compiled stay zero (never selected). */
static const fa_kernels tables[FA_NUM_LEVELS][FA_NUM_DTYPES] = {
    FA_COMPILED_LEVELS(FA_LEVEL_TABLES_, _)};

#define FA_TEST_TABLE_(dt, lvl) &FA_K(test_kernels, dt, lvl),
#define FA_LEVEL_TEST_TABLES_(lvl, a) [FA_LEVEL_ID_##lvl] = {FA_DTYPES(FA_TEST_TABLE_, lvl)},
static const fa_test_kernels *const test_tables[FA_NUM_LEVELS][FA_NUM_DTYPES] = {
    FA_COMPILED_LEVELS(FA_LEVEL_TEST_TABLES_, _)};

#define FA_LEVEL_COMPILED_(lvl, a) [FA_LEVEL_ID_##lvl] = 1,
static const int compiled[FA_NUM_LEVELS] = {FA_COMPILED_LEVELS(FA_LEVEL_COMPILED_, _)};

const fa_kernels *fa_active[FA_NUM_DTYPES];
const fa_test_kernels *fa_active_test[FA_NUM_DTYPES];
static int active_level = -1;

#define FA_NAME_REDUCE_(name, out, a, b) #name,
#define FA_NAME_(name, a, b) #name,
static const char *const reduce_names[] = {FA_REDUCE_OPS(FA_NAME_REDUCE_, _, _)};
static const char *const map_names[] = {FA_MAP_OPS(FA_NAME_, _, _)};
static const char *const loss_names[] = {FA_LOSS_OPS(FA_NAME_, _, _)};
static const char *const reduce2_names[] = {FA_REDUCE2_OPS(FA_NAME_, _, _)};
static const char *const map2_names[] = {FA_MAP2_OPS(FA_NAME_, _, _)};
static const char *const elem_loss_names[] = {FA_ELEM_LOSS_OPS(FA_NAME_, _, _)};
static const char *const masked_names[] = {FA_MASKED_OPS(FA_NAME_, _, _)};
#define FA_KEEPS_(name, out, a, b) FA_KEEPS_##out,
#define FA_KEEPS_SAME 1
#define FA_KEEPS_REDUCED 0
static const int reduce_keeps_shape[] = {FA_REDUCE_OPS(FA_KEEPS_, _, _)};

const char *fa_op_name(int family, int op)
{
    if (op < 0) return NULL;
    if (family == FA_FAMILY_REDUCE) return op < FA_NUM_REDUCE ? reduce_names[op] : NULL;
    if (family == FA_FAMILY_MAP) return op < FA_NUM_MAP ? map_names[op] : NULL;
    if (family == FA_FAMILY_LOSS) return op < FA_NUM_LOSS ? loss_names[op] : NULL;
    if (family == FA_FAMILY_REDUCE2) return op < FA_NUM_REDUCE2 ? reduce2_names[op] : NULL;
    if (family == FA_FAMILY_MAP2) return op < FA_NUM_MAP2 ? map2_names[op] : NULL;
    if (family == FA_FAMILY_ELEM_LOSS)
        return op < FA_NUM_ELEM_LOSS ? elem_loss_names[op] : NULL;
    if (family == FA_FAMILY_MASKED) return op < FA_NUM_MASKED ? masked_names[op] : NULL;
    return NULL;
}

int fa_reduce_keeps_shape(int op)
{
    return op >= 0 && op < FA_NUM_REDUCE ? reduce_keeps_shape[op] : 0;
}

const char *fa_level_name(int level)
{
    return (level >= 0 && level < FA_NUM_LEVELS) ? level_names[level] : NULL;
}

#define FA_LEVEL_NAME_(lvl, a) " " #lvl
const char *fa_compiled_levels(void)
{
    return &FA_COMPILED_LEVELS(FA_LEVEL_NAME_, _)[1]; /* without the leading space */
}

int fa_get_level(void) { return active_level; }

int fa_set_level(int level)
{
    if (level < 0 || level >= FA_NUM_LEVELS || !compiled[level] || level > fa_cpu_level())
        return -1;
    for (int d = 0; d < FA_NUM_DTYPES; d++) {
        fa_active[d] = &tables[level][d];
        fa_active_test[d] = test_tables[level][d];
    }
    active_level = level;
    return level;
}

int fa_init(const char *request)
{
    int level = fa_cpu_level();
    if (request && *request) {
        int want = -1;
        for (int i = 0; i < FA_NUM_LEVELS; i++)
            if (strcmp(request, level_names[i]) == 0) want = i;
        if (want < 0) return -1;
        if (want < level) level = want;
    }
    while (!compiled[level]) level--; /* scalar is always compiled */
    return fa_set_level(level);
}

ptrdiff_t fa_first_bad_label(const int64_t *label, size_t len, int64_t C, int64_t ignore_index)
{
    for (size_t i = 0; i < len; i++) {
        int64_t t = label[i];
        if ((t < 0 || t >= C) && t != ignore_index) return (ptrdiff_t)i;
    }
    return -1;
}
