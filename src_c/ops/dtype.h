/* Per-dtype (and per-ISA) names for the op templates (the .c files of ops/).  Not
 * include-guarded on purpose: ops/instantiate.h defines FA_DTYPE as 32 or 64
 * and FA_ISA as the level being compiled, then includes a template, which
 * includes this. */
#ifndef FA_CAT4
#define FA_CAT4_(a, b, c, d) a##b##c##d
#define FA_CAT4(a, b, c, d) FA_CAT4_(a, b, c, d)
#endif
#undef T
#undef FA_FN
#undef FA_MAX
#undef FA_DIFF
#undef FA_EXP
#undef FA_V
#if FA_DTYPE == 32
#define T float
#define FA_FN(name) FA_CAT4(fa_, name, _f32_, FA_ISA)
#define FA_MAX fa_max_f32
#define FA_DIFF fa_diff_f32
#define FA_EXP fa_exp_nonpos_f32
/* the level's vector primitives (simd/README.md): fa_<isa>_f32_<name> */
#define FA_V(name) FA_CAT4(fa_, FA_ISA, _f32_, name)
#elif FA_DTYPE == 64
#define T double
#define FA_FN(name) FA_CAT4(fa_, name, _f64_, FA_ISA)
#define FA_MAX fa_max_f64
#define FA_DIFF fa_two_diff
#define FA_EXP fa_exp_nonpos_f64
#define FA_V(name) FA_CAT4(fa_, FA_ISA, _f64_, name)
#else
#error "FA_DTYPE must be 32 or 64"
#endif

/* The kernels of the tables (runtime/kernels.h) take untyped pointers; a
 * template defines its typed kernel and exports it with one of these. */
#ifndef FA_EXPORT_REDUCE
/* fa_<name>(x, y, outer, n, inner) from FA_FN(name_rows) and
 * fa_<name>_columns(x, y, n, inner, c0, c1) from FA_FN(name_cols_range). */
#define FA_EXPORT_REDUCE(name)                                                               \
    void FA_FN(name)(const void *x, void *y, size_t outer, size_t n, size_t inner)          \
    {                                                                                        \
        FA_FN(name##_rows)((const T *)x, (T *)y, outer, n, inner);                           \
    }                                                                                        \
    void FA_FN(name##_columns)(const void *x, void *y, size_t n, size_t inner, size_t c0,      \
                            size_t c1)                                                       \
    {                                                                                        \
        FA_FN(name##_cols_range)((const T *)x, (T *)y, n, inner, c0, c1);                    \
    }
/* fa_<name>(x, y, len, p) from FA_FN(name_typed). */
#define FA_EXPORT_MAP(name)                                                                  \
    void FA_FN(name)(const void *x, void *y, size_t len, double p)                           \
    {                                                                                        \
        FA_FN(name##_typed)((const T *)x, (T *)y, len, p);                                   \
    }
#endif
#ifndef FA_EXPORT_MAP2
/* fa_<name>(g, x, y, len, p) from FA_FN(name_typed) (two-input maps). */
#define FA_EXPORT_MAP2(name)                                                                 \
    void FA_FN(name)(const void *g, const void *x, void *y, size_t len, double p)            \
    {                                                                                        \
        FA_FN(name##_typed)((const T *)g, (const T *)x, (T *)y, len, p);                     \
    }
#endif
