// torch.save files as PyTorch writes them since 1.6: a zip archive with the pickled object in
// `<name>/data.pkl` and one record per storage, `<name>/data/<key>`. The archive is read with
// LibTorch's own reader, the pickle with the restricted unpickler of io/pickle.h: nothing in the
// file runs. The pre-1.6 format and TorchScript archives are refused with what to do instead.
#pragma once

#include <string>

#include "io/safetensors.h"

namespace gex {

// The tensors of the state dict in `path` (the dict at the top of the pickle, or under "state_dict"
// or "model"), contiguous, in the file's order. InputError naming the file on anything else: a
// global beyond a state dict's (named), a damaged archive, a value that is not a tensor.
TensorList read_torch_save(const std::string& path);

// Whether `path` starts like a zip archive (torch.save) rather than a safetensors file.
bool looks_like_zip(const std::string& path);
// Whether `path` starts as a file torch.save writes: a zip archive (PyTorch 1.6 and later, and
// torch.jit.save) or the legacy format's pickled magic number.
bool looks_like_torch_save(const std::string& path);

}  // namespace gex
