#include "train/sgd.h"

#include <map>

#include "errors.h"

namespace gex {

Sgd::Sgd(TensorList named_parameters, SgdOptions options)
    : m_params(std::move(named_parameters)), m_buffers(m_params.size()), m_options(options) {}

void Sgd::zero_grad() {
  // Undefined rather than zeroed: the backward pass then stores each gradient instead of adding
  // it to a tensor of zeros (PyTorch 2's set_to_none).
  for (auto& [name, p] : m_params) p.mutable_grad() = torch::Tensor();
}

void Sgd::step(double lr) {
  update([lr](torch::Tensor& p, const torch::Tensor& d) { p.add_(d, -lr); });
}

void Sgd::step(const torch::Tensor& lr) {
  if (m_options.momentum != 0)
    for (const auto& b : m_buffers) TORCH_CHECK(b.defined(), "Sgd::step(tensor): call prepare_buffers first");
  update([&lr](torch::Tensor& p, const torch::Tensor& d) { p.addcmul_(d, lr, -1); });
}

void Sgd::prepare_buffers() {
  if (m_options.momentum == 0) return;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < m_params.size(); ++i)
    if (!m_buffers[i].defined()) m_buffers[i] = torch::zeros_like(m_params[i].second);
}

void Sgd::update(const std::function<void(torch::Tensor& p, const torch::Tensor& d)>& descend) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < m_params.size(); ++i) {
    auto& p = m_params[i].second;
    if (!p.grad().defined()) continue;
    auto d = p.grad();
    if (m_options.weight_decay != 0) d = d.add(p, m_options.weight_decay);
    if (m_options.momentum != 0) {
      auto& b = m_buffers[i];
      if (!b.defined())
        b = d.detach().clone();
      else
        b.mul_(m_options.momentum).add_(d);
      d = m_options.nesterov ? d.add(b, m_options.momentum) : b;
    }
    descend(p, d);
  }
}

TensorList Sgd::state() const {
  TensorList out;
  for (size_t i = 0; i < m_params.size(); ++i)
    if (m_buffers[i].defined()) out.emplace_back(m_params[i].first + ".momentum_buffer", m_buffers[i].cpu());
  return out;
}

void Sgd::load_state(const TensorList& state, const std::string& source) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < m_params.size(); ++i) index[m_params[i].first + ".momentum_buffer"] = i;
  for (const auto& [key, t] : state) {
    const auto it = index.find(key);
    if (it == index.end()) throw InputError(source, "unexpected optimiser state 'optimizer." + key + "'");
    const auto& p = m_params[it->second].second;
    if (t.sizes() != p.sizes() || !torch::isFloatingType(t.scalar_type()))
      throw InputError(source, "optimiser state 'optimizer." + key + "' does not fit its parameter");
    m_buffers[it->second] = t.to(p.device(), p.scalar_type()).contiguous(p.suggest_memory_format());
  }
}

}  // namespace gex
