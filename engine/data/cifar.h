// CIFAR-10/100 binary files: records of 1 (or 2: coarse, fine) label bytes and 3×32×32 pixels.
#pragma once

#include "data/dataset.h"

namespace gex {

// DIR holds data_batch_1..5.bin and test_batch.bin (CIFAR-10) or train.bin and test.bin
// (CIFAR-100, fine labels).
Dataset load_cifar(const std::string& dir, bool hundred);

// The records of one CIFAR binary file already read; `source` names it in messages.
Split decode_cifar_records(const std::string& bytes, bool hundred, const std::string& source);

}  // namespace gex
