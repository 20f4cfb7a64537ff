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
  const Backbone& b = *find_backbone(spec.backbone);
  Network net;
  switch (b.family) {
    case BackboneFamily::kResNetBasic: net = std::make_shared<ResNetImpl>(spec, false, b.blocks); break;
    case BackboneFamily::kResNetBottleneck: net = std::make_shared<ResNetImpl>(spec, true, b.blocks); break;
    case BackboneFamily::kCifarResNet: net = std::make_shared<CifarResNetImpl>(spec, b.blocks.at(0)); break;
    case BackboneFamily::kPreResNet164:
      net = std::make_shared<PreActResNetImpl>(spec, PreActResNetImpl::Kind::kPreResNet164);
      break;
    case BackboneFamily::kWideResNet16x8:
      net = std::make_shared<PreActResNetImpl>(spec, PreActResNetImpl::Kind::kWideResNet16x8);
      break;
    case BackboneFamily::kShuffleNet: net = std::make_shared<ShuffleNetImpl>(spec); break;
  }
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
