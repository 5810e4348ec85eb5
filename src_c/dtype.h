/* Per-dtype (and per-ISA) names for the kernel templates (*_impl.h).  Not
 * include-guarded on purpose: define FA_DTYPE as 32 or 64 and FA_ISA as the
 * suffix of the ISA level being compiled (see isa_begin.h), then include a
 * template. */
#ifndef FA_CAT4
#define FA_CAT4_(a, b, c, d) a##b##c##d
#define FA_CAT4(a, b, c, d) FA_CAT4_(a, b, c, d)
#endif
#undef T
#undef FA_FN
#undef FA_MAX
#undef FA_DIFF
#undef FA_EXP
#undef FA_HFN
#if FA_DTYPE == 32
#define T float
#define FA_FN(name) FA_CAT4(fa_, name, _f32_, FA_ISA)
#define FA_MAX fa_max_f32
#define FA_DIFF fa_diff_f32
#define FA_EXP fa_exp_nonpos_f32
#define FA_HFN(name) FA_CAT4(fa_h, name, _f32_, FA_ISA)
#elif FA_DTYPE == 64
#define T double
#define FA_FN(name) FA_CAT4(fa_, name, _f64_, FA_ISA)
#define FA_MAX fa_max_f64
#define FA_DIFF fa_two_diff
#define FA_EXP fa_exp_nonpos_f64
#define FA_HFN(name) FA_CAT4(fa_h, name, _f64_, FA_ISA)
#else
#error "FA_DTYPE must be 32 or 64"
#endif
