/* Part of ops/instantiate.h: FA_TEMPLATE for float32 and float64 at the level
 * named by FA_ISA (with FA_HAND / FA_HAND_EXP as that level sets them). */
#define FA_DTYPE 32
#include FA_TEMPLATE
#undef FA_DTYPE
#define FA_DTYPE 64
#include FA_TEMPLATE
#undef FA_DTYPE
