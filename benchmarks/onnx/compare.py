#!/usr/bin/env python3
"""Inference throughput of one model family in one run, all candidates on the same machine state:

  lv-ort       LiteVision's own ONNX export, on ONNX Runtime 1.31 (C#, `litevision bench model.onnx`)
  pt-ort       torch.onnx.export of the torchvision model (PyTorch 1.13), on the same ONNX Runtime (C#)
  lv-ort-int8  LiteVision's export quantized to INT8 QDQ (generated calibration data), same ONNX Runtime
  lv-torch     LiteVision on libtorch 2.10 (TorchSharp)
  pt-eager     torchvision on PyTorch 1.13 eager (Debian python3-torch), measured here in Python

python3 has no onnxruntime, so both .onnx files go through LiteVision's C# ONNX Runtime path. Each candidate
is timed with warm-up and a median over >= `--seconds` of runs; the whole set is repeated `--rounds` times,
interleaved, and the best median is kept (the machine is shared, so slower rounds measure other load).

Usage: /usr/bin/python3 benchmarks/onnx/compare.py [--models mobilenet_v2,...] [--batch 1,8] [--threads 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "src", "LiteVision.Cli", "bin", "Release", "net10.0", "LiteVision.Cli.dll")


def litevision(*args, attempts=2):
    # A second attempt: TorchSharp 0.107 intermittently fails inside Tensor.add_ (an implicitly created Scalar that
    # the GC finalises during the native call); the failure is reported, not hidden.
    for attempt in range(attempts):
        result = subprocess.run(["dotnet", CLI, *args], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout
        print(f"litevision {' '.join(args)} failed (attempt {attempt + 1}): {result.stderr.splitlines()[0]}", file=sys.stderr)
    sys.exit(f"litevision {' '.join(args)} failed {attempts} times")


def bench_cli(target, batches, threads, seconds, backend=None):
    args = ["bench", target, "--batch", ",".join(map(str, batches)), "--threads", str(threads),
            "--seconds", str(seconds), "--warmup", "5", "--format", "json"]
    if backend:
        args += ["--backend", backend]
    report = json.loads(litevision(*args))
    return {r["batch"]: r["imagesPerSecond"] for r in report["results"]}


def bench_eager(model, batches, seconds):
    out = {}
    with torch.no_grad():
        for batch in batches:
            x = torch.randn(batch, 3, 224, 224)
            for _ in range(5):
                model(x)
            latencies, start = [], time.perf_counter()
            while len(latencies) < 10 or time.perf_counter() - start < seconds:
                t = time.perf_counter()
                model(x)
                latencies.append(time.perf_counter() - t)
            out[batch] = batch / statistics.median(latencies)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="mobilenet_v2,mobilenet_v3_large,mobilenet_v3_small")
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    batches = [int(b) for b in args.batch.split(",")]
    torch.set_num_threads(args.threads)
    work = tempfile.mkdtemp(prefix="litevision-onnx-bench-")
    candidates = ["lv-ort", "pt-ort", "lv-ort-int8", "lv-torch", "pt-eager"]
    best = {}
    for model_name in args.models.split(","):
        lv_path = os.path.join(work, f"lv_{model_name}.onnx")
        pt_path = os.path.join(work, f"pt_{model_name}.onnx")
        litevision("export", model_name, "--out", lv_path)
        torch.manual_seed(0)
        model = getattr(torchvision.models, model_name)(weights=None).eval()
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), pt_path, opset_version=17, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        for _ in range(args.rounds):
            runs = {
                "lv-ort": lambda: bench_cli(lv_path, batches, args.threads, args.seconds),
                "pt-ort": lambda: bench_cli(pt_path, batches, args.threads, args.seconds),
                "lv-ort-int8": lambda: bench_cli(model_name, batches, args.threads, args.seconds, "onnx-int8"),
                "lv-torch": lambda: bench_cli(model_name, batches, args.threads, args.seconds, "torch"),
                "pt-eager": lambda: bench_eager(model, batches, args.seconds),
            }
            for name in candidates:
                for batch, ips in runs[name]().items():
                    key = (model_name, name, batch)
                    best[key] = max(best.get(key, 0.0), ips)
                    print(f"{model_name:20s} {name:12s} batch {batch:3d}: {ips:8.1f} images/s", file=sys.stderr)

    print(f"\nImages/s at 224x224, {args.threads} threads, best of {args.rounds} interleaved rounds "
          f"(median latency over >= {args.seconds:g} s each):\n")
    header = "| model | batch | " + " | ".join(candidates) + " | lv-ort / pt-ort | int8 / lv-ort | lv-torch / pt-eager |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for model_name in args.models.split(","):
        for batch in batches:
            v = {c: best[(model_name, c, batch)] for c in candidates}
            print(f"| {model_name} | {batch} | " + " | ".join(f"{v[c]:.1f}" for c in candidates) +
                  f" | {v['lv-ort'] / v['pt-ort']:.2f} | {v['lv-ort-int8'] / v['lv-ort']:.2f} | {v['lv-torch'] / v['pt-eager']:.2f} |")


if __name__ == "__main__":
    main()
