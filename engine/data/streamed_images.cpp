#include "data/streamed_images.h"

#include <cstring>

#include "cores.h"
#include "data/photo_recipe.h"
#include "errors.h"
#include "io/atomic_file.h"
#include "io/image.h"

namespace gex {

// A batch being decoded: its rows, and the slots the workers fill.
class StreamedImages::Pending {
 public:
  std::vector<int64_t> rows;
  SampleView view;
  torch::Tensor images;  // uint8 B×C×S×S
  std::vector<char> ok;
  std::mutex mutex;
  std::condition_variable done;
  int remaining = 0;
  bool cancelled = false;
};

StreamedImages::StreamedImages(std::vector<std::string> files, std::vector<int64_t> labels, PhotoGeometry geometry,
                               LoaderOptions options)
    : m_files(std::move(files)),
      m_labels(torch::tensor(labels, torch::kInt64)),
      m_geometry(geometry),
      m_options(std::move(options)) {
  const int threads = m_options.threads > 0 ? m_options.threads : available_cores();
  for (int i = 0; i < threads; ++i) m_workers.emplace_back([this] { work(); });
}

StreamedImages::~StreamedImages() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop = true;
    m_queue.clear();
  }
  m_wake.notify_all();
  for (auto& w : m_workers) w.join();
}

std::shared_ptr<StreamedImages::Pending> StreamedImages::request(const torch::Tensor& rows, const SampleView& view) {
  auto p = std::make_shared<Pending>();
  const auto r = rows.to(torch::kInt64).contiguous();
  p->rows.assign(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
  p->view = view;
  const int64_t s = m_geometry.size;
  p->images = torch::empty({r.numel(), m_geometry.channels, s, s}, torch::kUInt8);
  p->ok.assign(p->rows.size(), 0);
  p->remaining = static_cast<int>(p->rows.size());
  if (p->remaining == 0) return p;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    for (int i = 0; i < p->remaining; ++i) m_queue.push_back({p, i});
  }
  m_wake.notify_all();
  return p;
}

void StreamedImages::cancel(const std::shared_ptr<Pending>& pending) {
  std::lock_guard<std::mutex> lock(pending->mutex);
  pending->cancelled = true;
}

Rows StreamedImages::wait(const std::shared_ptr<Pending>& p) {
  {
    std::unique_lock<std::mutex> lock(p->mutex);
    p->done.wait(lock, [&] { return p->remaining == 0; });
  }
  std::vector<std::string> news;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    for (; m_warned < m_bad_order.size(); ++m_warned) news.push_back("skipped " + m_bad.at(m_bad_order[m_warned]));
  }
  if (m_options.warn)
    for (const auto& n : news) m_options.warn(n);
  std::vector<int64_t> kept;
  for (size_t i = 0; i < p->rows.size(); ++i)
    if (p->ok[i]) kept.push_back(static_cast<int64_t>(i));
  Rows out;
  const auto rows = torch::tensor(p->rows, torch::kInt64);
  if (kept.size() == p->rows.size()) {
    out.images = p->images;
    out.labels = m_labels.index_select(0, rows);
  } else {
    const auto k = torch::tensor(kept, torch::kInt64);
    out.images = p->images.index_select(0, k);
    out.labels = m_labels.index_select(0, rows.index_select(0, k));
    out.positions = k;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> StreamedImages::skipped() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto row : m_bad_order) out.emplace_back(m_files[row], m_bad.at(row));
  return out;
}

int64_t StreamedImages::cached_bytes() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_cache_used;
}

void StreamedImages::work() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(m_mutex);
      m_wake.wait(lock, [&] { return m_stop || !m_queue.empty(); });
      if (m_stop) return;
      task = std::move(m_queue.front());
      m_queue.pop_front();
    }
    bool skip;
    {
      std::lock_guard<std::mutex> lock(task.batch->mutex);
      skip = task.batch->cancelled;
    }
    if (!skip) decode(*task.batch, task.slot);
    std::lock_guard<std::mutex> lock(task.batch->mutex);
    if (--task.batch->remaining == 0) task.batch->done.notify_all();
  }
}

void StreamedImages::decode(Pending& batch, int slot) {
  const int64_t row = batch.rows[slot];
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_bad.count(row)) return;
  }
  std::string why;
  try {
    const auto t = sample(row, batch.view);
    // Plain copy: no ATen kernel (and so no intra-op thread team) on a loader thread.
    std::memcpy(static_cast<uint8_t*>(batch.images.data_ptr()) + slot * t.numel(), t.data_ptr(), t.numel());
    batch.ok[slot] = 1;
    return;
  } catch (const InputError& e) {
    why = e.what();
  } catch (const std::exception& e) {
    why = m_files[row] + ": " + e.what();
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_bad.emplace(row, why).second) m_bad_order.push_back(row);
}

torch::Tensor StreamedImages::cached(int64_t row) {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto it = m_cache.find(row);
  return it == m_cache.end() ? torch::Tensor() : it->second;
}

void StreamedImages::keep(int64_t row, const torch::Tensor& t) {
  const int64_t bytes = t.numel();
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_cache_used + bytes > m_options.cache_bytes || m_cache.count(row)) return;
  m_cache.emplace(row, t);
  m_cache_used += bytes;
}

torch::Tensor StreamedImages::sample(int64_t row, const SampleView& view) {
  const auto& file = m_files[row];
  const int size = m_geometry.size, channels = m_geometry.channels;
  if (!m_geometry.photo_recipe) {
    // Small inputs: the sample is the same in every view (augmentation happens per batch).
    if (auto t = cached(row); t.defined()) return t;
    auto t = evaluation_sample(decode_for_samples(read_file(file), file, channels, size), size);
    keep(row, t);
    return t;
  }
  auto photo = cached(row);
  if (!photo.defined()) {
    photo = decode_for_samples(read_file(file), file, channels, size);
    keep(row, photo);
  }
  if (!view.train) return evaluation_sample(photo, size);
  const auto draw = random_resized_crop(static_cast<int>(photo.size(1)), static_cast<int>(photo.size(0)),
                                        sample_seed(view.seed, view.epoch, row));
  return crop_and_resize(photo, draw.box, size, draw.flip);
}

}  // namespace gex
