#include "dist/gradient_buckets.h"

namespace gex {

GradientBuckets::GradientBuckets(ProcessGroup& group, std::vector<torch::Tensor> parameters, int64_t bucket_bytes,
                                 int64_t first_bucket_bytes)
    : m_group(group) {
  int64_t filled = 0;
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    const torch::Tensor& p = *it;
    if (!p.requires_grad()) continue;
    const int64_t cap = m_buckets.size() <= 1 ? first_bucket_bytes : bucket_bytes;
    const int64_t bytes = p.numel() * p.element_size();
    const bool same_type = !m_buckets.empty() && m_buckets.back().flat.scalar_type() == p.scalar_type() &&
                           m_buckets.back().flat.device() == p.device();
    if (m_buckets.empty() || !same_type || (filled > 0 && filled + bytes > cap)) {
      m_buckets.emplace_back();
      m_buckets.back().flat = torch::empty({0}, p.options());
      filled = 0;
    }
    Slot s;
    s.parameter = p;
    s.bucket = m_buckets.size() - 1;
    s.offset = filled / p.element_size();
    m_buckets.back().slots.push_back(m_slots.size());
    m_slots.push_back(s);
    filled += bytes;
  }
  for (auto& b : m_buckets) {  // each bucket's flat buffer, once its parameters are known
    const auto& last = m_slots[b.slots.back()];
    b.flat = torch::empty({last.offset + last.parameter.numel()}, last.parameter.options());
  }
  for (size_t i = 0; i < m_slots.size(); ++i)
    m_slots[i].hook = m_slots[i].parameter.register_hook([this, i](torch::Tensor grad) { on_gradient(i, grad); });
}

GradientBuckets::~GradientBuckets() {
  for (auto& s : m_slots)
    if (s.hook >= 0) s.parameter.remove_hook(s.hook);
}

int64_t GradientBuckets::bytes() const {
  int64_t n = 0;
  for (const auto& b : m_buckets) n += b.flat.numel() * b.flat.element_size();
  return n;
}

void GradientBuckets::begin() {
  for (auto& s : m_slots) s.ready = false;
  for (auto& b : m_buckets) b.pending = b.slots.size(), b.work.reset();
  m_next_launch = 0;
  m_active = true;
}

void GradientBuckets::on_gradient(size_t slot, const torch::Tensor& grad) {
  if (!m_active) return;
  Slot& s = m_slots[slot];
  Bucket& b = m_buckets[s.bucket];
  torch::NoGradGuard no_grad;
  b.flat.slice(0, s.offset, s.offset + s.parameter.numel()).view(s.parameter.sizes()).copy_(grad);
  if (!s.ready) s.ready = true, --b.pending;
  if (b.pending == 0) launch_ready();
}

// Buckets start in index order on every rank, so the collectives match whatever order the
// gradients arrive in.
void GradientBuckets::launch_ready() {
  while (m_next_launch < m_buckets.size() && m_buckets[m_next_launch].pending == 0) {
    Bucket& b = m_buckets[m_next_launch++];
    b.work = m_group.start_all_reduce_sum(b.flat);
  }
}

void GradientBuckets::finish() {
  torch::NoGradGuard no_grad;
  for (auto& b : m_buckets) {
    if (b.pending == 0) continue;
    for (size_t i : b.slots)
      if (!m_slots[i].ready) {
        m_slots[i].ready = true;
        b.flat.slice(0, m_slots[i].offset, m_slots[i].offset + m_slots[i].parameter.numel()).zero_();
      }
    b.pending = 0;
  }
  launch_ready();
  for (auto& b : m_buckets) b.work->wait();
  m_active = false;
  for (auto& s : m_slots) {
    const auto sum = m_buckets[s.bucket].flat.slice(0, s.offset, s.offset + s.parameter.numel()).view(s.parameter.sizes());
    auto& grad = s.parameter.mutable_grad();
    if (grad.defined()) grad.copy_(sum);
    else grad = sum.clone(s.parameter.suggest_memory_format());
  }
}

}  // namespace gex
