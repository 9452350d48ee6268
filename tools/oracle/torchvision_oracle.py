#!/usr/bin/env python3
"""Reference data from torchvision for LiteVision's tests (run with Debian's python3-torchvision).

Reads one JSON request on stdin and writes one JSON answer on stdout.

  {"op": "describe", "models": [{"id": "...", "builder": "mobilenet_v3_large", "kwargs": {...}}]}
      -> {"<id>": {"params": N, "state": {"key": [shape...], ...}}}

  {"op": "reference", "builder": ..., "kwargs": {...}, "input_size": 224, "batch": 2, "seed": 0, "out": DIR}
      -> writes DIR/weights.safetensors (seeded weights, randomised BN statistics), DIR/input.safetensors and
         DIR/logits.safetensors (eval-mode output of torchvision on that input); answers {"files": [...]}.

Both take optional "patch": {"stride1": ["conv1.0", ...], "identity": ["maxpool", ...]} (per model for describe):
convolutions at those paths run at stride 1 and modules at those paths become nn.Identity, the way LiteVision's
small-input variants change a network (docs/small-input.md). The builder "efficientnet_scaled" takes kwargs
width_mult, depth_mult, dropout, tf_bn (bool) and EfficientNet's own (num_classes, stochastic_depth_prob): torchvision's
EfficientNet class on the B0 table with free compound coefficients.
"""
import json
import os
import struct
import sys

import torch
import torchvision


def build(builder, kwargs, patch=None):
    if builder == "efficientnet_scaled":
        from functools import partial
        from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf
        kwargs = dict(kwargs)
        setting, last_channel = _efficientnet_conf("efficientnet_b0", width_mult=kwargs.pop("width_mult", 1.0),
                                                   depth_mult=kwargs.pop("depth_mult", 1.0))
        if kwargs.pop("tf_bn", False):
            kwargs["norm_layer"] = partial(torch.nn.BatchNorm2d, eps=0.001, momentum=0.01)
        model = EfficientNet(setting, kwargs.pop("dropout", 0.2), last_channel=last_channel, **kwargs)
    else:
        model = getattr(torchvision.models, builder)(weights=None, **kwargs)
    return apply_patch(model, patch)


def apply_patch(model, patch):
    """Convs at patch["stride1"] run at stride 1, modules at patch["identity"] become nn.Identity."""
    patch = patch or {}
    for path in patch.get("stride1") or []:
        conv = model.get_submodule(path)
        if not isinstance(conv, torch.nn.Conv2d):
            raise SystemExit(f"{path} is a {type(conv).__name__}, not a Conv2d")
        conv.stride = (1, 1)
    for path in patch.get("identity") or []:
        parent, _, name = path.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, name, torch.nn.Identity())
    return model


def describe(request):
    answer = {}
    for item in request["models"]:
        model = build(item["builder"], item.get("kwargs", {}), item.get("patch"))
        answer[item["id"]] = {
            "params": sum(p.numel() for p in model.parameters()),
            "state": {k: list(v.shape) for k, v in model.state_dict().items()},
        }
    return answer


DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}


def save_safetensors(tensors, path):
    """Writes the safetensors layout by hand (8-byte little-endian header size, JSON header, raw data)."""
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous().cpu()
        data = tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": DTYPES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)))
        handle.write(encoded)
        for blob in blobs:
            handle.write(blob)


def seeded_model(request):
    """torchvision's model with seeded weights and randomised BatchNorm statistics, in eval mode."""
    torch.manual_seed(request.get("seed", 0))
    return randomise_batch_norm(build(request["builder"], request.get("kwargs", {}), request.get("patch")))


def randomise_batch_norm(model):
    """Gives every BatchNorm non-trivial statistics and affine parameters and puts the model in eval mode."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                # Non-trivial statistics, so eval-mode normalisation is really exercised.
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    model.eval()
    return model


def reference(request):
    return write_reference(seeded_model(request), request)


def write_reference(model, request):
    """Writes the model's weights, an input batch (drawn after the weights) and its eval-mode logits into request["out"]."""
    size = request.get("input_size", 224)
    images = torch.randn(request.get("batch", 2), 3, size, size)
    with torch.no_grad():
        logits = model(images)
    out = request["out"]
    os.makedirs(out, exist_ok=True)
    save_safetensors(model.state_dict(), os.path.join(out, "weights.safetensors"))
    save_safetensors({"input": images}, os.path.join(out, "input.safetensors"))
    save_safetensors({"logits": logits}, os.path.join(out, "logits.safetensors"))
    return {"files": ["weights.safetensors", "input.safetensors", "logits.safetensors"]}


def main():
    request = json.load(sys.stdin)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    handlers = {"describe": describe, "reference": reference}
    if request.get("op") not in handlers:
        raise SystemExit(f"unknown op {request.get('op')!r}; expected one of {sorted(handlers)}")
    json.dump(handlers[request["op"]](request), sys.stdout)


if __name__ == "__main__":
    main()
