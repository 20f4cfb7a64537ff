#include "models/registry.h"

#include "errors.h"
#include "models/cifar_resnet.h"
#include "models/mac_counter.h"
#include "models/preact_resnet.h"
#include "models/resnet.h"
#include "models/shufflenet.h"

namespace gex {

Network build_network(const ModelSpec& spec) {
  if (const auto problem = spec.problem()) throw UsageError(*problem);
  const auto& b = spec.backbone;
  Network net;
  if (b == "resnet18") net = std::make_shared<ResNetImpl>(spec, false, std::vector<int>{2, 2, 2, 2});
  if (b == "resnet34") net = std::make_shared<ResNetImpl>(spec, false, std::vector<int>{3, 4, 6, 3});
  if (b == "resnet50") net = std::make_shared<ResNetImpl>(spec, true, std::vector<int>{3, 4, 6, 3});
  if (b == "resnet101") net = std::make_shared<ResNetImpl>(spec, true, std::vector<int>{3, 4, 23, 3});
  if (b == "resnet152") net = std::make_shared<ResNetImpl>(spec, true, std::vector<int>{3, 8, 36, 3});
  if (b == "resnet20") net = std::make_shared<CifarResNetImpl>(spec, 20);
  if (b == "resnet32") net = std::make_shared<CifarResNetImpl>(spec, 32);
  if (b == "resnet44") net = std::make_shared<CifarResNetImpl>(spec, 44);
  if (b == "resnet56") net = std::make_shared<CifarResNetImpl>(spec, 56);
  if (b == "resnet110") net = std::make_shared<CifarResNetImpl>(spec, 110);
  if (b == "preresnet164")
    net = std::make_shared<PreActResNetImpl>(spec, PreActResNetImpl::Kind::kPreResNet164);
  if (b == "wrn16-8")
    net = std::make_shared<PreActResNetImpl>(spec, PreActResNetImpl::Kind::kWideResNet16x8);
  if (b == "shufflenet") net = std::make_shared<ShuffleNetImpl>(spec);
  if (!net) throw UsageError("unknown backbone '" + b + "'");
  init_weights(*net);
  return net;
}

Complexity measure_complexity(NetworkImpl& net) {
  Complexity result;
  for (const auto& p : net.parameters()) result.params += p.numel();
  const auto& spec = net.spec();
  const bool was_training = net.is_training();
  net.eval();
  {
    torch::NoGradGuard no_grad;
    MacCounting counting;
    auto device = net.parameters().empty() ? torch::kCPU : net.parameters().front().device();
    net.forward(torch::zeros({1, spec.in_channels, spec.input_size, spec.input_size},
                             torch::TensorOptions().device(device)));
    result.macs = counting.macs();
  }
  net.train(was_training);
  return result;
}

}  // namespace gex
