/* softmax kernels: softmax_impl.h for every dtype and ISA level. */
#define FA_TEMPLATE "softmax_impl.h"
#include "instantiate.h"
