#!/usr/bin/env python3
"""Where one ONNX file is faster than another, by kind of layer: stem, depthwise, 1x1 and squeeze-and-excitation
convolutions, and each other operator type, in ONNX Runtime's own kernel times (batch 1, 2 threads, the runs of the two
files alternating on one thread pool; `OrtInspect nodes`). Made for a LiteVision export against its INT8 quantization:

  /usr/bin/python3 benchmarks/onnx/kinds.py mnv2.onnx mnv2-int8.onnx [RUNS]

ONNX Runtime renames the nodes it fuses (`<name>_token_N` for a QDQ group, `<output>_nchwc` for a convolution in its
blocked layout, named after the activation fused into it), so each profiled node is traced back to the convolution of
the original file by name, and the convolution's kind is read from its weight. Kernel time leaves out the time between
kernels; the summed totals are therefore not the end-to-end ratio that `OrtInspect race` measures.
"""
import json
import os
import re
import subprocess
import sys

import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSPECT = os.path.join(ROOT, "benchmarks", "onnx", "OrtInspect", "bin", "Release", "net10.0", "OrtInspect.dll")
CONV_OPS = {"Conv", "FusedConv", "QLinearConv"}


def conv_kinds(path):
    """Kind of every convolution, looked up by the name of the node and by the names of the values it feeds."""
    graph = onnx.load(path).graph
    initializers = {t.name: t for t in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    consumers = {}
    for node in graph.node:
        for value in node.input:
            consumers.setdefault(value, []).append(node)

    def weight_dims(name):
        # A quantized file reads its weights through a DequantizeLinear of an int8 initializer.
        while name not in initializers and name in producers and producers[name].op_type == "DequantizeLinear":
            name = producers[name].input[0]
        return list(initializers[name].dims) if name in initializers else None

    kinds = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        dims = weight_dims(node.input[1])
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if dims is None:
            kind = "other conv"
        elif dims[1] * group == 3:
            kind = "stem conv"
        elif dims[1] == 1 and group > 1 and dims[2] * dims[3] > 1:
            kind = "depthwise conv"
        elif dims[2] * dims[3] == 1:
            kind = "SE conv" if re.search(r"\.fc[12]$", node.name.rsplit("/", 1)[0]) else "1x1 conv"
        else:
            kind = "other conv"
        kinds[node.name] = kind
        # The activation, residual add or QDQ pair that ONNX Runtime fuses into the convolution names the fused node.
        value = node.output[0]
        for _ in range(4):
            following = consumers.get(value, [])
            if len(following) != 1 or following[0].op_type == "Conv":
                break
            value = following[0].output[0]
            kinds.setdefault(following[0].name, kind)
            kinds.setdefault(value, kind)
    return kinds


def kind_of(node, kinds):
    if node["op"] not in CONV_OPS:
        # An integer kernel counts with its float counterpart: QLinearAdd with Add, QGemm with Gemm.
        return re.sub(r"^(QLinear|Q(?=Gemm$))", "", node["op"])
    name = re.sub(r"(_token_\d+|_nchwc)$", "", node["name"])
    return kinds.get(name, "other conv")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    a, b = sys.argv[1], sys.argv[2]
    runs = sys.argv[3] if len(sys.argv) > 3 else "200"
    result = subprocess.run(["dotnet", INSPECT, "nodes", a, b, runs], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"OrtInspect nodes failed (build it: dotnet build benchmarks/onnx/OrtInspect -c Release):\n{result.stderr}")
    profile = json.loads(result.stdout)
    totals = {}
    for side, path in (("a", a), ("b", b)):
        kinds = conv_kinds(path)
        for node in profile[side]["nodes"]:
            kind = kind_of(node, kinds)
            totals.setdefault(kind, {"a": 0.0, "b": 0.0})[side] += node["us"]
    print(f"A = {a}\nB = {b}\nkernel microseconds per image, batch 1, {profile['a']['runs']} runs each")
    print(f"{'kind':<26}{'A':>10}{'B':>10}{'A / B':>8}")
    for kind, t in sorted(totals.items(), key=lambda kv: -max(kv[1].values())):
        ratio = f"{t['a'] / t['b']:.2f}" if t["a"] > 0 and t["b"] > 0 else "-"
        print(f"{kind:<26}{t['a']:>10.1f}{t['b']:>10.1f}{ratio:>8}")
    all_a, all_b = (sum(t[s] for t in totals.values()) for s in ("a", "b"))
    print(f"{'total':<26}{all_a:>10.1f}{all_b:>10.1f}{all_a / all_b:>8.2f}")


if __name__ == "__main__":
    main()
