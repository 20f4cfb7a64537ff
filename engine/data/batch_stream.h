// Batches of a split in a known order, the same for data in memory and data streamed from files:
// in memory they are sliced or gathered when asked for; streamed, the next few are decoded on the
// loader's threads while the caller computes.
#pragma once

#include <deque>
#include <functional>
#include <memory>

#include "data/dataset.h"
#include "data/streamed_images.h"

namespace gex {

// The rows of one batch, [begin, end) or the rows `index` (int64) when defined, and their view.
struct BatchPlan {
  int64_t begin = 0, end = 0;
  torch::Tensor index;
  SampleView view;
};

class BatchStream {
 public:
  // Batches plan(0) … plan(count − 1), handed over in turn; `ahead` prepared in advance.
  BatchStream(const Split& split, int64_t count, std::function<BatchPlan(int64_t)> plan, int ahead = 3);
  ~BatchStream();
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  // The next batch (uint8 images, int64 labels); rows whose files cannot be read are left out.
  Rows next();

 private:
  void fill();
  const Split& m_split;
  const int64_t m_count;
  const std::function<BatchPlan(int64_t)> m_plan;
  const int m_ahead;
  int64_t m_next = 0, m_requested = 0;
  std::deque<std::shared_ptr<StreamedImages::Pending>> m_pending;
};

// Calls `fn` with the first `total` rows of a split, in order, `batch` at a time (evaluation
// view); stops when fn returns false. Returns the images handed over.
int64_t for_each_batch(const Split& split, int64_t total, int64_t batch, const std::function<bool(const Rows&)>& fn);
// The same for the rows [begin, end).
int64_t for_each_batch(const Split& split, int64_t begin, int64_t end, int64_t batch,
                       const std::function<bool(const Rows&)>& fn);

// The files of a split that could not be read so far (when loaded and while streamed).
std::vector<std::string> skipped_files(const Split& split);

// The rows [begin, end) of a split in the evaluation view.
Rows split_rows(const Split& split, int64_t begin, int64_t end);

}  // namespace gex
