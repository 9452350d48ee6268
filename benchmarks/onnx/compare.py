#!/usr/bin/env python3
"""Inference throughput of LiteVision against PyTorch, in one run, for the models of docs/benchmarks.md:

  lv-ort       LiteVision's own ONNX export, on ONNX Runtime 1.31 (C#)
  pt-ort       torch.onnx.export of the torchvision model (PyTorch 1.13, opset 17, dynamic batch), same ONNX Runtime
  lv-ort-int8  LiteVision's export quantized to INT8 QDQ (`export --int8 --calibration bundled`), same ONNX Runtime
  lv-torch     LiteVision on libtorch 2.10 (TorchSharp; `litevision bench --backend torch`, channels-last)
  pt-eager     torchvision on PyTorch 1.13 eager (Debian python3-torch), NCHW as PyTorch's default, measured here

This VM's speed drifts by 10-30% within minutes, so ratios come from adjacent measurements, not from separate runs:
the ONNX pairs (pt-ort vs lv-ort, lv-ort vs lv-ort-int8) run in one process on one shared thread pool, in alternating
blocks of ~0.5 s (`OrtInspect race`), and the ratio is the median over adjacent blocks; lv-torch and pt-eager (two
processes) alternate for `--rounds` rounds, and the ratio is the median of the per-round ratios. Random weights,
224x224 input, images/s = batch / median latency.

Usage: /usr/bin/python3 benchmarks/onnx/compare.py [--models a,b] [--batch 1,8] [--threads 2] [--seconds 10] [--rounds 3]
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
INSPECT_PROJECT = os.path.join(ROOT, "benchmarks", "onnx", "OrtInspect")
INSPECT = os.path.join(INSPECT_PROJECT, "bin", "Release", "net10.0", "OrtInspect.dll")
MODELS = "mobilenet_v2,mobilenet_v3_large,mobilenet_v3_small,shufflenet_v2_x1_0,efficientnet_b0,resnet50"


def run(*command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    return result.stdout


def race(a, b, batch, seconds):
    """OrtInspect race: images/s of a and b, and b's speed over a's (median over adjacent blocks)."""
    r = json.loads(run("dotnet", INSPECT, "race", a, b, str(batch), str(seconds)))
    return r["a"]["imagesPerSecond"], r["b"]["imagesPerSecond"], r["speedRatioBOverA"]


def bench_torch(model_name, batches, threads, seconds):
    report = json.loads(run("dotnet", CLI, "bench", model_name, "--backend", "torch", "--batch", ",".join(map(str, batches)),
                            "--threads", str(threads), "--seconds", str(seconds), "--warmup", "5", "--format", "json"))
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
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10, help="per ONNX race; a quarter of it per libtorch/eager measurement")
    parser.add_argument("--rounds", type=int, default=3, help="lv-torch / pt-eager alternations")
    args = parser.parse_args()
    if args.threads != 2:
        print("note: OrtInspect race always uses 2 ONNX Runtime threads", file=sys.stderr)
    batches = [int(b) for b in args.batch.split(",")]
    torch.set_num_threads(args.threads)
    run("dotnet", "build", INSPECT_PROJECT, "-c", "Release", "--nologo", "-v", "q")
    work = tempfile.mkdtemp(prefix="litevision-onnx-bench-")
    rows = []
    for model_name in args.models.split(","):
        lv, pt, int8 = (os.path.join(work, f"{kind}_{model_name}.onnx") for kind in ("lv", "pt", "int8"))
        run("dotnet", CLI, "export", model_name, "--out", lv)
        run("dotnet", CLI, "export", model_name, "--int8", "--calibration", "bundled", "--out", int8)
        torch.manual_seed(0)
        model = getattr(torchvision.models, model_name)(weights=None).eval()
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), pt, opset_version=17, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})

        torch_rounds = []
        for _ in range(args.rounds):
            torch_rounds.append((bench_torch(model_name, batches, args.threads, args.seconds / 4),
                                 bench_eager(model, batches, args.seconds / 4)))
        for batch in batches:
            pt_ort, lv_ort, export_ratio = race(pt, lv, batch, args.seconds)
            lv_ort2, lv_int8, int8_ratio = race(lv, int8, batch, args.seconds)
            lv_torch = statistics.median(t[batch] for t, _ in torch_rounds)
            pt_eager = statistics.median(e[batch] for _, e in torch_rounds)
            torch_ratio = statistics.median(t[batch] / e[batch] for t, e in torch_rounds)
            row = (model_name, batch, lv_ort, pt_ort, export_ratio, lv_int8, int8_ratio, lv_torch, pt_eager, torch_ratio)
            rows.append(row)
            print(" ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row), file=sys.stderr)

    print(f"\nImages/s at 224x224, {args.threads} threads; ONNX pairs raced in blocks for {args.seconds:g} s each, "
          f"libtorch/eager over {args.rounds} alternating rounds:\n")
    print("| model | batch | lv-ort | pt-ort | **lv-ort / pt-ort** | lv-ort-int8 | **int8 / lv-ort** | lv-torch | pt-eager | **lv-torch / pt-eager** |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (name, batch, lv_ort, pt_ort, export_ratio, lv_int8, int8_ratio, lv_torch, pt_eager, torch_ratio) in rows:
        print(f"| {name} | {batch} | {lv_ort:.0f} | {pt_ort:.0f} | **{export_ratio:.2f}** | {lv_int8:.0f} | **{int8_ratio:.2f}** "
              f"| {lv_torch:.1f} | {pt_eager:.1f} | **{torch_ratio:.2f}** |")


if __name__ == "__main__":
    main()
