using LiteVision.Layers;
using LiteVision.Models;
using static TorchSharp.torch;

namespace LiteVision.Onnx;

// Emitters of the classic families (ResNet V1/V2, SE-ResNet, DenseNet, GoogLeNet, Inception-ResNet-v2) and of MobileNetV4: each names its
// module's children in the order of its forward; EmitChildren folds every conv → BN pair of that order.
public static partial class OnnxEmitters
{
    private static void RegisterClassicFamilies()
    {
        // Blocks.
        Register<ResidualBlock>((c, m, path, x) =>
        {
            var names = new List<string>();
            for (int i = 1; i <= m.Depth; i++)
            {
                names.AddRange([$"conv{i}", $"bn{i}"]);
                if (i < m.Depth) names.Add("relu");
            }
            names.Add("se?");
            string y = c.EmitChildren(m, path, x, [.. names]);
            string shortcut = m.HasProjection ? c.EmitChildren(m, path, x, "downsample") : x;
            return c.Graph.Node("Relu", OnnxExportContext.Child(path, "relu"), [c.Graph.Node("Add", path, [y, shortcut])]);
        });
        Register<PreActBottleneck>((c, m, path, x) =>
        {
            string preActivated = c.EmitChildren(m, path, x, "norm1", "relu");
            string shortcut = m.HasProjection ? c.EmitChildren(m, path, preActivated, "downsample") : x;
            string y = c.EmitChildren(m, path, preActivated, "conv1", "norm2", "relu", "conv2", "norm3", "relu", "conv3");
            return c.Graph.Node("Add", path, [y, shortcut]);
        });
        Register<DenseLayer>((c, m, path, x) => c.EmitChildren(m, path, x, "norm1", "relu1", "conv1", "norm2", "relu2", "conv2", "dropout?"));
        Register<DenseBlock>((c, m, path, x) =>
        {
            var features = new List<string> { x };
            foreach ((string name, nn.Module layer) in m.named_children())
            {
                string input = features.Count == 1 ? x : c.Graph.Node("Concat", path, features.ToList(), OnnxAttribute.Int("axis", 1));
                features.Add(c.Emit(layer, OnnxExportContext.Child(path, name), input));
            }
            return c.Graph.Node("Concat", path, features, OnnxAttribute.Int("axis", 1));
        });
        Register<BranchConcat>(EmitBranches);
        Register<ResidualChain>((c, m, path, x) =>
        {
            string y = c.EmitChildren(m, path, x, [.. m.LayerNames]);
            return m.UsesResidual ? c.Graph.Node("Add", path, [y, x]) : y;   // stochastic depth: identity in eval
        });
        Register<InceptionResidual>((c, m, path, x) =>
        {
            // conv2d(branches) · scale: the constant scaling is folded into conv2d's weights and bias.
            string branches = EmitBranches(c, m, path, x);
            string conv2dPath = OnnxExportContext.Child(path, "conv2d");
            string y;
            using (NewDisposeScope())
            {
                Tensor scale = tensor(Enumerable.Repeat(m.Scale, (int)m.InChannels).ToArray());
                y = c.EmitConv(m.Projection, conv2dPath, branches, scale, zeros_like(scale), OnnxExportContext.Child(conv2dPath, "bias"));
            }
            string sum = c.Graph.Node("Add", path, [y, x]);
            return m.Activates ? c.EmitChildren(m, path, sum, "relu") : sum;
        });

        // Models.
        Register<ResNet>((c, m, path, x) =>
        {
            x = c.EmitChildren(m, path, x, "conv1", "bn1", "relu", "maxpool?", "layer1", "layer2", "layer3", "layer4");
            return c.EmitChildren(m, path, c.EmitGlobalPoolFlatten(OnnxExportContext.Child(path, "avgpool"), x), "fc");
        });
        Register<ResNetV2>((c, m, path, x) =>
        {
            x = c.EmitChildren(m, path, x, "stem", "stages", "norm", "relu", "avgpool", "head");
            return c.Graph.Node("Flatten", path, [x], OnnxAttribute.Int("axis", 1));
        });
        Register<DenseNet>((c, m, path, x) =>
        {
            x = c.Graph.Node("Relu", path, [c.EmitChildren(m, path, x, "features")]);
            return c.EmitChildren(m, path, c.EmitGlobalPoolFlatten(OnnxExportContext.Child(path, "avgpool"), x), "classifier");
        });
        Register<GoogLeNet>((c, m, path, x) =>
        {
            if (m.TransformsInput) x = TransformInput(c, path, x);
            x = c.EmitChildren(m, path, x, [.. m.BodyNames]);
            return c.EmitChildren(m, path, c.EmitGlobalPoolFlatten(OnnxExportContext.Child(path, "avgpool"), x), "dropout", "fc");
        });
        Register<MobileNetV4>((c, m, path, x) =>
        {
            x = c.Graph.Node("Flatten", path, [c.EmitChildren(m, path, x, [.. MobileNetV4.BodyNames])], OnnxAttribute.Int("axis", 1));
            return c.EmitChildren(m, path, x, "dropout", "classifier");
        });
        Register<InceptionResNetV2>((c, m, path, x) =>
        {
            x = c.EmitChildren(m, path, x, [.. m.BodyNames]);
            return c.EmitChildren(m, path, c.EmitGlobalPoolFlatten(OnnxExportContext.Child(path, "global_pool"), x), "dropout?", "classif");
        });
    }

    private static string EmitBranches(OnnxExportContext c, BranchConcat m, string path, string x) =>
        c.Graph.Node("Concat", path, m.BranchNames.Select(name => c.EmitChildren(m, path, x, name)).ToList(), OnnxAttribute.Int("axis", 1));

    // GoogLeNet's transform_input: x · std / 0.5 + (mean − 0.5) / 0.5 per channel, as two constant [1, 3, 1, 1] tensors.
    private static string TransformInput(OnnxExportContext c, string path, string x)
    {
        using var scope = NewDisposeScope();
        Tensor scale = tensor(GoogLeNet.TransformScale.ToArray()).view(1, 3, 1, 1);
        Tensor shift = tensor(GoogLeNet.TransformShift.ToArray()).view(1, 3, 1, 1);
        string scaled = c.Graph.Node("Mul", path, [x, c.Graph.Initializer("const_transform_input_scale", scale)]);
        return c.Graph.Node("Add", path, [scaled, c.Graph.Initializer("const_transform_input_shift", shift)]);
    }
}
