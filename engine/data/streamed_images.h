// A split whose images stay in their files (DESIGN §6, folder:DIR larger than --cache-mb, or
// inputs of at least 64 px): samples are decoded on a pool of threads when a batch is asked for,
// a few batches ahead, and kept in a bounded cache. A file that cannot be decoded is left out
// of its batches with one warning naming it, and counted.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace gex {

// How a file becomes a sample.
struct PhotoGeometry {
  int channels = 3;
  int size = 32;  // S: samples are S×S
  // Photographs (S ≥ 64): decoded once at a reduced size and cropped per sample as torchvision's
  // ImageNet recipe does; otherwise shorter side to S and the centre crop, cached as samples.
  bool photo_recipe = false;
};

// Which sample a row becomes: the evaluation view, or a training draw of the photo recipe.
struct SampleView {
  bool train = false;
  uint64_t seed = 0;
  int64_t epoch = 0;
};

// Images and labels of a batch: uint8 B×C×S×S and int64 B (rows that could not be read left out).
struct Rows {
  torch::Tensor images, labels;
  // Where rows were left out: each kept row's place in the batch asked for (int64 B), so that it
  // takes that place's augmentation draws; undefined when every row is there.
  torch::Tensor positions;
};

struct LoaderOptions {
  int threads = 0;              // decoding threads; 0: one per core
  int64_t cache_bytes = 0;      // decoded data kept in memory; 0: none
  // A file that was skipped, told once on the thread that waits for its batch.
  std::function<void(const std::string&)> warn;
};

class StreamedImages {
 public:
  class Pending;

  StreamedImages(std::vector<std::string> files, std::vector<int64_t> labels, PhotoGeometry geometry,
                 LoaderOptions options);
  ~StreamedImages();
  StreamedImages(const StreamedImages&) = delete;
  StreamedImages& operator=(const StreamedImages&) = delete;

  int64_t size() const { return static_cast<int64_t>(m_files.size()); }
  const std::vector<std::string>& files() const { return m_files; }
  const torch::Tensor& labels() const { return m_labels; }  // int64, every file's
  const PhotoGeometry& geometry() const { return m_geometry; }
  int threads() const { return static_cast<int>(m_workers.size()); }

  // Starts decoding `rows` (int64) as `view`; wait() hands them over.
  std::shared_ptr<Pending> request(const torch::Tensor& rows, const SampleView& view);
  // The batch, once decoded; warnings for newly skipped files are given here.
  Rows wait(const std::shared_ptr<Pending>& pending);
  // Drops the work not yet started for `pending` (a batch that will not be waited for).
  void cancel(const std::shared_ptr<Pending>& pending);

  // The files skipped so far (distinct), each with why.
  std::vector<std::pair<std::string, std::string>> skipped() const;
  int64_t cached_bytes() const;

 private:
  struct Task {
    std::shared_ptr<Pending> batch;
    int slot;
  };
  void work();
  void decode(Pending& batch, int slot);
  torch::Tensor sample(int64_t row, const SampleView& view);
  torch::Tensor cached(int64_t row);
  void keep(int64_t row, const torch::Tensor& t);

  const std::vector<std::string> m_files;
  const torch::Tensor m_labels;
  const PhotoGeometry m_geometry;
  const LoaderOptions m_options;

  mutable std::mutex m_mutex;  // the queue, the cache and the skipped files
  std::condition_variable m_wake;
  std::deque<Task> m_queue;
  bool m_stop = false;
  std::unordered_map<int64_t, torch::Tensor> m_cache;  // filled once, never evicted
  int64_t m_cache_used = 0;
  std::unordered_map<int64_t, std::string> m_bad;  // row → why it was skipped
  std::vector<int64_t> m_bad_order;
  size_t m_warned = 0;  // m_bad_order[0, m_warned) have been told
  std::vector<std::thread> m_workers;
};

}  // namespace gex
