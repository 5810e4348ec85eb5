/* log_softmax kernels: log_softmax_impl.h for every dtype and ISA level. */
#define FA_TEMPLATE "log_softmax_impl.h"
#include "instantiate.h"
