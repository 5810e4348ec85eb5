/* Part of ops/instantiate.h: FA_TEMPLATE for float32 and float64 at the level
 * named by FA_ISA (with FA_VEC as that level sets it). */
#define FA_DTYPE 32
#include FA_TEMPLATE
#undef FA_DTYPE
#define FA_DTYPE 64
#include FA_TEMPLATE
#undef FA_DTYPE
