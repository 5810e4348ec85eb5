/* cross_entropy kernels for float32 and float64: instantiates cross_entropy_impl.h twice. */
#include "fastact.h"

#define FA_DTYPE 32
#include "cross_entropy_impl.h"
#undef FA_DTYPE

#define FA_DTYPE 64
#include "cross_entropy_impl.h"
#undef FA_DTYPE
