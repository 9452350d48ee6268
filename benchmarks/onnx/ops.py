import sys, onnx, collections
for p in sys.argv[1:]:
    m = onnx.load(p)
    c = collections.Counter((n.domain + ":" if n.domain else "") + n.op_type for n in m.graph.node)
    print(p, len(m.graph.node), "nodes", dict(sorted(c.items())))
    i = m.graph.input[0]
    print("   input", i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
