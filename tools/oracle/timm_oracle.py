#!/usr/bin/env python3
"""Reference data from timm for LiteVision's tests: timm's source on PYTHONPATH (../shared/oracle/timm beside the
repository, or LITEVISION_TIMM_SOURCE), Debian's torch 1.13. Run with PYTHONDONTWRITEBYTECODE=1: timm's folder is read-only.

Reads one JSON request on stdin and writes one JSON answer on stdout. Every model of one request is built in this one
process (a Python start and timm's import cost more than a small model):

  {"models": [{"id": "...", "model": "mobilenetv4_conv_small", "kwargs": {...}, "patch": {...},
               "macs_input": 224,
               "reference": {"input_size": 128, "batch": 2, "seed": 0, "out": DIR}}]}
      -> {"<id>": {"params": N, "state": {"key": [shape...]}, "macs": M, "files": [...]}}

"params" and "state" always; "macs" (multiply-accumulates of every Conv2d and Linear for one image of macs_input²,
counted with forward hooks) when macs_input is given; with "reference", DIR gets weights.safetensors (seeded weights,
randomised BatchNorm parameters and statistics: see calibrate_batch_norm), input.safetensors and logits.safetensors
(timm's eval-mode output), as torchvision_oracle.py writes them. "patch" is torchvision_oracle.py's (stride-1 convs,
identity modules).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torchvision_oracle import apply_patch, randomise_batch_norm, write_reference  # noqa: E402

import timm  # noqa: E402


def count_macs(model, size):
    """Multiply-accumulates of the convolutions and linear layers for one image, from forward hooks on those modules."""
    total = [0]

    def conv_hook(module, _inputs, output):
        total[0] += output[0].numel() * (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]

    def linear_hook(module, _inputs, output):
        total[0] += output[0].numel() * module.in_features

    handles = []
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, torch.nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for handle in handles:
        handle.remove()
    return total[0]


def calibrate_batch_norm(model, size):
    """Random BatchNorm affine parameters, and running statistics measured on a random batch, then jittered.

    Statistics drawn independently of the activations (torchvision_oracle.py's randomise_batch_norm) do not normalise:
    in a deep network without shortcuts (MobileNetV4-Conv-Large) the logits then grow to ~1e8, where float32 rounding
    alone (timm against itself in float64) exceeds any 1e-4 tolerance. Measured statistics keep every layer near unit
    scale; the jitter keeps them from being exactly the batch's, so eval-mode normalisation is still exercised.
    """
    randomise_batch_norm(model)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, size, size))
        for norm in norms:
            norm.momentum = 0.1
            norm.running_mean.add_(torch.empty_like(norm.running_mean).uniform_(-0.1, 0.1))
            norm.running_var.mul_(torch.empty_like(norm.running_var).uniform_(0.8, 1.2))
    model.eval()
    return model


def answer_one(item):
    reference = item.get("reference")
    torch.manual_seed(reference.get("seed", 0) if reference else 0)
    model = apply_patch(timm.create_model(item["model"], pretrained=False, **item.get("kwargs", {})), item.get("patch"))
    answer = {
        "params": sum(p.numel() for p in model.parameters()),
        "state": {k: list(v.shape) for k, v in model.state_dict().items()},
    }
    if item.get("macs_input"):
        answer["macs"] = count_macs(model, item["macs_input"])
    if reference:
        answer["files"] = write_reference(calibrate_batch_norm(model, reference.get("input_size", 224)), reference)["files"]
    return answer


def main():
    request = json.load(sys.stdin)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    json.dump({item["id"]: answer_one(item) for item in request["models"]}, sys.stdout)


if __name__ == "__main__":
    main()
