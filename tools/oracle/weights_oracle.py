#!/usr/bin/env python3
"""torchvision's weights enums for LiteVision's catalog test (run with Debian's python3-torchvision 0.14.1).

Reads one JSON request on stdin and writes one JSON answer on stdout:

  {"prefixes": ["mobilenet_v2", "resnet", ...]}
      -> {"categories": [...ImageNet names...],
          "models": {"<model>": [{"name": "IMAGENET1K_V1", "default": true, "file": "x-1234abcd.pth", "acc1": ..,
                                   "acc5": .., "params": .., "resize": .., "crop": .., "interpolation": "bilinear",
                                   "mean": [..], "std": [..], "categories": "imagenet-1k" | "other"}, ...]}}

  Optional "timm_root": DIR (timm's source, ../shared/oracle/timm) and "timm": ["org/arch.tag", ...]
      -> also {"timm": {"<repo>": {"params": .., "resize": floor(input / crop_pct), "crop": input, "interpolation": ..,
                                   "mean": [..], "std": [..], "num_classes": .., "license": ..}}}

Models are every registered torchvision classification model whose name is a prefix followed by nothing, a digit or
an underscore and a size (so "resnet" takes resnet18 … resnet152 but not resnext50_32x4d or wide_resnet50_2).
"""
import json
import re
import sys

import torchvision
from torchvision.models import get_model_weights, list_models


def main():
    request = json.load(sys.stdin)
    patterns = [re.compile(re.escape(p) + r"(\d+|_[a-z0-9_]+)?$") for p in request["prefixes"]]
    names = [n for n in list_models(module=torchvision.models) if any(p.match(n) for p in patterns)]
    imagenet = None
    models = {}
    for name in names:
        enum = get_model_weights(name)
        rows = []
        for weights in enum:
            meta = weights.meta
            transforms = weights.transforms()
            metrics = meta["_metrics"]["ImageNet-1K"]
            if imagenet is None and len(meta["categories"]) == 1000:
                imagenet = list(meta["categories"])
            rows.append({
                "name": weights.name,
                "default": weights == enum.DEFAULT,
                "file": weights.url.rsplit("/", 1)[-1],
                "acc1": metrics["acc@1"],
                "acc5": metrics["acc@5"],
                "params": meta["num_params"],
                "resize": transforms.resize_size[0],
                "crop": transforms.crop_size[0],
                "interpolation": transforms.interpolation.value,
                "mean": list(transforms.mean),
                "std": list(transforms.std),
                "categories": "imagenet-1k" if list(meta["categories"]) == imagenet else "other",
            })
        models[name] = rows
    answer = {"categories": imagenet, "models": models}
    if request.get("timm"):
        answer["timm"] = describe_timm(request["timm_root"], request["timm"])
    json.dump(answer, sys.stdout)


def describe_timm(root, repos):
    # timm's source is read-only where CI runs: no __pycache__.
    sys.dont_write_bytecode = True
    sys.path.insert(0, root)
    import math
    import timm

    out = {}
    for repo in repos:
        model = timm.create_model(repo.split("/", 1)[1], pretrained=False)
        cfg = model.pretrained_cfg
        crop = cfg["input_size"][-1]
        out[repo] = {
            "params": sum(p.numel() for p in model.parameters()),
            "resize": math.floor(crop / cfg["crop_pct"]),
            "crop": crop,
            "interpolation": cfg["interpolation"],
            "mean": list(cfg["mean"]),
            "std": list(cfg["std"]),
            "num_classes": cfg["num_classes"],
            "license": cfg.get("license"),
        }
    return out


if __name__ == "__main__":
    main()
