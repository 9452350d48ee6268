#!/usr/bin/env python3
"""Checkpoint, preprocessing and prediction references for LiteVision's tests (Debian's python3-torchvision).

Reads one JSON request on stdin and writes one JSON answer on stdout. Model weights come from
torchvision_oracle.seeded_model, so they equal those of the "reference" op there.

  {"op": "checkpoints", "builder", "kwargs", "seed", "input_size", "batch", "out"[, "calibrate": true]}
      -> DIR/zip.pth (torch.save), legacy.pth (_use_new_zipfile_serialization=False), weights.safetensors,
         wrapped.pth ({"epoch", "model_state_dict", "optimizer"}), ddp_legacy.pth ({"model": "module."-prefixed}),
         input.safetensors, logits.safetensors; "calibrate" sets BatchNorm statistics from data first, so the
         predictions depend on the image (seeded weights alone give nearly the same answer for every image)
  {"op": "tensors", "out"} -> DIR/tensors_zip.pth and tensors_legacy.pth holding non-contiguous, offset, shared and
         every supported dtype, and DIR/tensors_expected.safetensors (the same values, contiguous)
  {"op": "torch_load", "path", "builder", "kwargs", "input", "out"} -> torch.load(path, weights_only=True) must be an
         OrderedDict; loads it strictly into torchvision's model and writes DIR/logits.safetensors
  {"op": "malicious", "out", "marker"} -> pickles that would run os.system / builtins.eval / subprocess if unpickled
  {"op": "images", "out"} -> rgb.png, gray.png, rgba.png, photo.jpg, photo.bmp, photo.webp (seeded content)
  {"op": "preprocess", "image", "resize", "crop", "interpolation", "out"} -> DIR/pil.safetensors (torchvision
         transforms on the PIL image: the reference preset) and DIR/tensor.safetensors (tensor transforms, antialias)
  {"op": "predict", "builder", "kwargs", "weights", "images", "resize", "crop", "interpolation", "topk"}
      -> {"<image>": {"indices": [...], "probabilities": [...]}}
  {"op": "presets", "names": [...]} -> {"<name>": {"resize", "crop", "interpolation", "mean", "std"}} (DEFAULT weights)
"""
import collections
import json
import os
import struct
import sys

import torch
import torchvision
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torchvision_oracle import save_safetensors, seeded_model  # noqa: E402

DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool}


def load_safetensors(path):
    with open(path, "rb") as handle:
        size = struct.unpack("<Q", handle.read(8))[0]
        header = json.loads(handle.read(size))
        data = handle.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = DTYPES[entry["dtype"]]
        raw = bytearray(data[begin:end])
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(entry["shape"]).clone()
    return tensors


def calibrate(model, size):
    """Sets BatchNorm statistics from random batches and sharpens the classifier, so the outputs depend on the image."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, 3, size, size))
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.mul_(30)
    model.eval()


def checkpoints(request):
    model = seeded_model(request)
    if request.get("calibrate"):
        calibrate(model, request.get("input_size", 224))
    out = request["out"]
    os.makedirs(out, exist_ok=True)
    state = model.state_dict()
    torch.save(state, os.path.join(out, "zip.pth"))
    torch.save(state, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)
    save_safetensors(state, os.path.join(out, "weights.safetensors"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.save({"epoch": 3, "model_state_dict": state, "optimizer": optimizer.state_dict()}, os.path.join(out, "wrapped.pth"))
    ddp = collections.OrderedDict(("module." + k, v) for k, v in state.items())
    torch.save({"model": ddp, "arch": request["builder"]}, os.path.join(out, "ddp_legacy.pth"), _use_new_zipfile_serialization=False)
    size = request.get("input_size", 224)
    images = torch.randn(request.get("batch", 2), 3, size, size)
    with torch.no_grad():
        logits = model(images)
    save_safetensors({"input": images}, os.path.join(out, "input.safetensors"))
    save_safetensors({"logits": logits}, os.path.join(out, "logits.safetensors"))
    return {"files": sorted(os.listdir(out))}


def tensors(request):
    torch.manual_seed(1)
    base = torch.randn(4, 6)
    values = collections.OrderedDict()
    values["transposed"] = base.t()                     # stride (1, 6)
    values["row_slice"] = base[1:3]                      # storage offset 6, shares base's storage
    values["column_slice"] = base[:, 2:5]                # offset 2, stride (6, 1)
    values["base"] = base
    values["strided_1d"] = torch.arange(20.0)[3::4]      # offset 3, stride 4
    values["expanded"] = torch.tensor([1.0, 2.0, 3.0]).unsqueeze(0).expand(2, 3)  # stride (0, 1)
    values["half"] = torch.randn(3, 2).half()
    values["bfloat16"] = torch.randn(5).bfloat16()
    values["double"] = torch.randn(2, 2).double()
    values["int64_scalar"] = torch.tensor(123456789012, dtype=torch.int64)
    values["int32"] = torch.arange(-3, 3, dtype=torch.int32)
    values["uint8"] = torch.arange(250, 256, dtype=torch.uint8)
    values["bool"] = torch.tensor([True, False, True])
    values["empty"] = torch.zeros(0, 3)
    out = request["out"]
    os.makedirs(out, exist_ok=True)
    torch.save(values, os.path.join(out, "tensors_zip.pth"))
    torch.save(values, os.path.join(out, "tensors_legacy.pth"), _use_new_zipfile_serialization=False)
    save_safetensors({k: v.contiguous() for k, v in values.items()}, os.path.join(out, "tensors_expected.safetensors"))
    return {"keys": list(values)}


def torch_load(request):
    state = torch.load(request["path"], weights_only=True)
    answer = {"type": type(state).__module__ + "." + type(state).__name__, "keys": len(state)}
    if "builder" in request:
        torch.manual_seed(123)
        model = torchvision.models.__dict__[request["builder"]](weights=None, **request.get("kwargs", {}))
        model.load_state_dict(state, strict=True)
        model.eval()
        images = load_safetensors(request["input"])["input"]
        with torch.no_grad():
            logits = model(images)
        os.makedirs(request["out"], exist_ok=True)
        save_safetensors({"logits": logits}, os.path.join(request["out"], "logits.safetensors"))
    return answer


class _Hostile:
    """Pickles as a call of `function(*arguments)`; nothing runs when it is saved."""

    def __init__(self, function, arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


def malicious(request):
    import builtins
    import subprocess
    out, marker = request["out"], request["marker"]
    os.makedirs(out, exist_ok=True)
    command = f"touch {marker}"
    payloads = {
        "os_system_zip.pth": ({"weight": torch.zeros(2), "x": _Hostile(os.system, (command,))}, True),
        "os_system_legacy.pth": (collections.OrderedDict(a=_Hostile(os.system, (command,))), False),
        "eval_zip.pth": ({"x": _Hostile(builtins.eval, (f"__import__('os').system('{command}')",))}, True),
        "subprocess_zip.pth": ({"x": _Hostile(subprocess.call, (["touch", marker],))}, True),
    }
    for name, (payload, zipped) in payloads.items():
        torch.save(payload, os.path.join(out, name), _use_new_zipfile_serialization=zipped)
    return {"files": sorted(payloads)}


def images(request):
    out = request["out"]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(request.get("seed", 7))
    height, width = request.get("height", 150), request.get("width", 200)
    y = torch.linspace(0, 1, height).unsqueeze(1)
    x = torch.linspace(0, 1, width).unsqueeze(0)
    channels = [torch.sin(6 * x + 3 * y), torch.cos(9 * x * y + 2 * x), torch.sin(4 * y - 5 * x)]
    smooth = torch.stack([(c + 1) / 2 for c in channels], dim=-1)
    noise = torch.rand(height, width, 3) * 0.25
    pixels = ((smooth * 0.75 + noise).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    rgb = Image.fromarray(pixels, "RGB")
    rgb.save(os.path.join(out, "rgb.png"))
    rgb.convert("L").save(os.path.join(out, "gray.png"))
    alpha = Image.fromarray((torch.rand(height, width) * 255).to(torch.uint8).numpy(), "L")
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    rgba.save(os.path.join(out, "rgba.png"))
    rgb.save(os.path.join(out, "photo.jpg"), quality=95)
    rgb.save(os.path.join(out, "photo.bmp"))
    rgb.save(os.path.join(out, "photo.webp"), lossless=True)
    return {"files": sorted(os.listdir(out))}


MODES = {"bilinear": transforms.InterpolationMode.BILINEAR, "bicubic": transforms.InterpolationMode.BICUBIC,
         "nearest": transforms.InterpolationMode.NEAREST}


def preset(request):
    """The reference scripts' evaluation transform on PIL images (what torchvision's weights were measured with)."""
    return transforms.Compose([
        transforms.Resize(request["resize"], interpolation=MODES[request.get("interpolation", "bilinear")]),
        transforms.CenterCrop(request["crop"]),
        transforms.ToTensor(),
        transforms.Normalize(request.get("mean", [0.485, 0.456, 0.406]), request.get("std", [0.229, 0.224, 0.225])),
    ])


def preprocess(request):
    image = Image.open(request["image"]).convert("RGB")
    pil = preset(request)(image)
    tensor_image = transforms.functional.pil_to_tensor(image)
    resized = transforms.functional.resize(tensor_image, request["resize"], interpolation=MODES[request.get("interpolation", "bilinear")],
                                           antialias=True)
    cropped = transforms.functional.center_crop(resized, request["crop"])
    scaled = transforms.functional.convert_image_dtype(cropped, torch.float32)
    tensor = transforms.functional.normalize(scaled, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    os.makedirs(request["out"], exist_ok=True)
    save_safetensors({"image": pil}, os.path.join(request["out"], "pil.safetensors"))
    save_safetensors({"image": tensor}, os.path.join(request["out"], "tensor.safetensors"))
    return {"shape": list(pil.shape)}


def predict(request):
    model = torchvision.models.__dict__[request["builder"]](weights=None, **request.get("kwargs", {}))
    model.load_state_dict(torch.load(request["weights"]))
    model.eval()
    transform = preset(request)
    answer = {}
    with torch.no_grad():
        for path in request["images"]:
            batch = transform(Image.open(path).convert("RGB")).unsqueeze(0)
            probabilities = torch.softmax(model(batch), dim=1)
            values, indices = probabilities.topk(request.get("topk", 5), dim=1)
            answer[path] = {"indices": indices[0].tolist(), "probabilities": values[0].tolist()}
    return answer


def presets(request):
    answer = {}
    for name in request["names"]:
        t = torchvision.models.get_model_weights(name).DEFAULT.transforms()
        answer[name] = {"resize": t.resize_size[0], "crop": t.crop_size[0], "interpolation": t.interpolation.value,
                        "mean": t.mean, "std": t.std}
    return answer


def main():
    request = json.load(sys.stdin)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    handlers = {"checkpoints": checkpoints, "tensors": tensors, "torch_load": torch_load, "malicious": malicious,
                "images": images, "preprocess": preprocess, "predict": predict, "presets": presets}
    if request.get("op") not in handlers:
        raise SystemExit(f"unknown op {request.get('op')!r}; expected one of {sorted(handlers)}")
    json.dump(handlers[request["op"]](request), sys.stdout)


if __name__ == "__main__":
    main()
