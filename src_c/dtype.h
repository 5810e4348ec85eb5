/* Per-dtype names for the kernel templates (*_impl.h).  Not include-guarded on
 * purpose: define FA_DTYPE as 32 or 64, then include this and a template. */
#undef T
#undef FA_FN
#undef FA_MAX
#undef FA_DIFF
#undef FA_EXP
#if FA_DTYPE == 32
#define T float
#define FA_FN(name) fa_##name##_f32
#define FA_MAX fa_max_f32
#define FA_DIFF fa_diff_f32
#define FA_EXP fa_exp_nonpos_f32
#elif FA_DTYPE == 64
#define T double
#define FA_FN(name) fa_##name##_f64
#define FA_MAX fa_max_f64
#define FA_DIFF fa_two_diff
#define FA_EXP fa_exp_nonpos_f64
#else
#error "FA_DTYPE must be 32 or 64"
#endif
