/* softmax kernels for float32 and float64: instantiates softmax_impl.h twice. */
#include "fastact.h"

#define FA_DTYPE 32
#include "softmax_impl.h"
#undef FA_DTYPE

#define FA_DTYPE 64
#include "softmax_impl.h"
#undef FA_DTYPE
