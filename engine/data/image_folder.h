// A folder of images, one subfolder per class (or train/ and val/ of those). Unreadable images are
// skipped with a warning naming them; a folder with no readable image is an error.
#pragma once

#include "data/dataset.h"

namespace gex {

Dataset load_image_folder(const std::string& dir, const DataOptions& options);

}  // namespace gex
