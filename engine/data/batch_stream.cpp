#include "data/batch_stream.h"

namespace gex {

BatchStream::BatchStream(const Split& split, int64_t count, std::function<BatchPlan(int64_t)> plan, int ahead)
    : m_split(split), m_count(count), m_plan(std::move(plan)), m_ahead(std::max(1, ahead)) {}

BatchStream::~BatchStream() {
  for (const auto& p : m_pending) m_split.streamed->cancel(p);
}

void BatchStream::fill() {
  while (m_requested < m_count && m_requested < m_next + m_ahead) {
    const BatchPlan plan = m_plan(m_requested++);
    const auto index = plan.index.defined() ? plan.index : torch::arange(plan.begin, plan.end, torch::kInt64);
    m_pending.push_back(m_split.streamed->request(index, plan.view));
  }
}

Rows BatchStream::next() {
  if (m_next >= m_count) return {};
  if (!m_split.streamed) {
    const BatchPlan plan = m_plan(m_next++);
    const auto rows = [&plan](const torch::Tensor& t) {
      return plan.index.defined() ? t.index_select(0, plan.index) : t.slice(0, plan.begin, plan.end);
    };
    if (m_split.readable.defined()) {
      const auto keep = rows(m_split.readable);
      if (!keep.all().item<bool>())
        return {rows(m_split.images).index({keep}), rows(m_split.labels).index({keep}), keep.nonzero().select(1, 0)};
    }
    return {rows(m_split.images), rows(m_split.labels), torch::Tensor()};
  }
  fill();
  const auto pending = m_pending.front();
  m_pending.pop_front();
  ++m_next;
  fill();  // the next ones decode while this one is used
  return m_split.streamed->wait(pending);
}

int64_t for_each_batch(const Split& split, int64_t total, int64_t batch, const std::function<bool(const Rows&)>& fn) {
  return for_each_batch(split, 0, total, batch, fn);
}

int64_t for_each_batch(const Split& split, int64_t begin, int64_t end, int64_t batch,
                       const std::function<bool(const Rows&)>& fn) {
  const int64_t count = (std::max<int64_t>(0, end - begin) + batch - 1) / batch;
  BatchStream stream(split, count, [&](int64_t k) {
    BatchPlan p;
    p.begin = begin + k * batch;
    p.end = std::min(end, p.begin + batch);
    return p;
  });
  int64_t seen = 0;
  for (int64_t k = 0; k < count; ++k) {
    const Rows rows = stream.next();
    seen += rows.labels.size(0);
    if (!fn(rows)) break;
  }
  return seen;
}

std::vector<std::string> skipped_files(const Split& split) {
  auto out = split.skipped;
  if (split.streamed)
    for (const auto& [file, why] : split.streamed->skipped()) out.push_back(file);
  return out;
}

Rows split_rows(const Split& split, int64_t begin, int64_t end) {
  BatchStream stream(split, 1, [&](int64_t) {
    BatchPlan p;
    p.begin = begin;
    p.end = end;
    return p;
  });
  return stream.next();
}

}  // namespace gex
