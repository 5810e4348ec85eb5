/* relu kernels for float32 and float64: instantiates relu_impl.h twice. */
#include "fastact.h"

#define FA_DTYPE 32
#include "relu_impl.h"
#undef FA_DTYPE

#define FA_DTYPE 64
#include "relu_impl.h"
#undef FA_DTYPE
