/* log_softmax kernels for float32 and float64: instantiates log_softmax_impl.h twice. */
#include "fastact.h"

#define FA_DTYPE 32
#include "log_softmax_impl.h"
#undef FA_DTYPE

#define FA_DTYPE 64
#include "log_softmax_impl.h"
#undef FA_DTYPE
