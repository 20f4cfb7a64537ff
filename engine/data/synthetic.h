// `synthetic`: ten procedurally generated classes (a blob at one of eight compass points, a centre
// blob, a ring), jittered and noisy; the same every time. For tests and demos.
#pragma once

#include "data/dataset.h"

namespace gex {

Dataset make_synthetic(int channels, int size, int64_t train_images = 2000, int64_t test_images = 500);

}  // namespace gex
