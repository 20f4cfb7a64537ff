#include "dist/data_parallel.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "errors.h"

namespace gex {

DataParallel::DataParallel(ProcessGroup& group) : m_group(group) {
  m_shard.index = group.rank();
  m_shard.count = group.size();
  m_shard.sum = [&group](torch::Tensor& t) { group.all_reduce_sum(t); };
}

void DataParallel::attach(NetworkImpl& net, bool sync_bn) {
  m_net = &net;
  m_sync_bn = sync_bn;
  std::vector<torch::Tensor> state;
  for (const auto& p : net.parameters()) state.push_back(p);
  for (const auto& b : net.buffers()) state.push_back(b);
  m_group.broadcast_from_rank0(state);
  std::vector<torch::Tensor> trainable;
  for (const auto& p : net.parameters())
    if (p.requires_grad()) trainable.push_back(p);
  m_buckets = std::make_unique<GradientBuckets>(m_group, trainable);
  if (sync_bn) synchronise_batch_norm(net, m_shard.sum);
}

DataParallel::Agreement DataParallel::agree(int64_t local_rows, bool stop_asked) {
  auto t = torch::tensor({double(local_rows), stop_asked ? 1.0 : 0.0, local_rows == 0 ? 1.0 : 0.0}, torch::kFloat64);
  m_group.all_reduce_sum(t);
  Agreement a;
  a.rows = static_cast<int64_t>(t[0].item<double>());
  a.stop = t[1].item<double>() > 0;
  a.skip = m_sync_bn && a.rows > 0 && t[2].item<double>() > 0;
  return a;
}

void DataParallel::begin_backward() { m_buckets->begin(); }
void DataParallel::finish_backward() { m_buckets->finish(); }

void DataParallel::broadcast_buffers() {
  std::vector<torch::Tensor> buffers;
  for (const auto& b : m_net->buffers()) buffers.push_back(b);
  m_group.broadcast_from_rank0(buffers);
}

void DataParallel::sum_interval(torch::Tensor& loss_sum, torch::Tensor& top1, torch::Tensor& top5, int64_t& images) {
  auto t = torch::stack({loss_sum.cpu(), top1.cpu(), top5.cpu(), torch::scalar_tensor(double(images), torch::kFloat64)});
  m_group.all_reduce_sum(t);
  loss_sum.fill_(t[0].item<double>());
  top1.fill_(t[1].item<double>());
  top5.fill_(t[2].item<double>());
  images = static_cast<int64_t>(t[3].item<double>());
}

void on_all_ranks(ProcessGroup* group, const std::string& what, const std::function<void()>& work) {
  if (!group) return work();
  std::string mine = "ok";
  std::exception_ptr error;
  try {
    work();
  } catch (const Error& e) {
    mine = std::to_string(e.exit_code()) + "\t" + e.what();
    error = std::current_exception();
  }
  const auto all = group->exchange(what, mine);
  if (error) std::rethrow_exception(error);
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r] == "ok") continue;
    const auto tab = all[r].find('\t');
    const int code = std::atoi(all[r].substr(0, tab).c_str());
    throw Error("rank " + std::to_string(r) + " could not start (" + what + "): " + all[r].substr(tab + 1),
                code > 0 ? code : kExitRunFailed);
  }
}

namespace {

// The first path at which two JSON values differ, and both values there.
bool first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& path, std::string& where,
                      std::string& va, std::string& vb) {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const auto other = b.contains(it.key()) ? b.at(it.key()) : nlohmann::json();
      if (first_difference(it.value(), other, path.empty() ? it.key() : path + "." + it.key(), where, va, vb))
        return true;
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key()))
        return where = path.empty() ? it.key() : path + "." + it.key(), va = "(none)", vb = it.value().dump(), true;
    return false;
  }
  if (a == b) return false;
  where = path, va = a.dump(), vb = b.dump();
  return true;
}

}  // namespace

void check_same_config(ProcessGroup& group, const std::string& config_json) {
  auto mine = nlohmann::json::parse(config_json);
  for (const char* local : {"threads", "loader_threads", "cache_mb"}) mine.erase(local);
  const auto all = group.exchange("config", mine.dump());
  const auto first = nlohmann::json::parse(all[0]);
  for (size_t r = 1; r < all.size(); ++r) {
    std::string where, a, b;
    if (first_difference(first, nlohmann::json::parse(all[r]), "", where, a, b))
      throw UsageError("the ranks were started with different settings: '" + where + "' is " + a + " on rank 0 but " +
                       b + " on rank " + std::to_string(r) + " (give every rank the same flags)");
  }
}

void check_same_data(ProcessGroup* group, const std::string& data, const DataIdentity& identity) {
  if (!group) return;
  const auto all = group->exchange("data", identity_json(identity));
  const DataIdentity first = parse_identity_json(all[0]);
  for (size_t r = 1; r < all.size(); ++r)
    if (const DataIdentity other = parse_identity_json(all[r]); other != first)
      throw UsageError(data + " is not the same on rank " + std::to_string(r) + " as on rank 0 (" +
                       describe_change(first, other, "on rank 0", "on rank " + std::to_string(r)) +
                       "): give every rank the same files");
}

void check_world(ProcessGroup* group, const TrainConfig& config, bool resumed) {
  if (!group) return;
  check_same_config(*group, config.to_json());
  check_batch_splits(config.batch, group->size(), resumed);
}

torch::Device device_of_rank(torch::Device device, ProcessGroup* group) {
  if (!group || !device.is_cuda()) return device;
  const int gpus = static_cast<int>(std::max<size_t>(1, torch::cuda::device_count()));
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(group->world().local_rank % gpus));
}

std::vector<std::string> rank_hosts(ProcessGroup& group) {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) std::snprintf(name, sizeof name, "unknown");
  return group.exchange("host", name);
}

}  // namespace gex
