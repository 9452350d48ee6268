using LiteVision.Layers;
using LiteVision.Tests.Support;
using static TorchSharp.torch;

namespace LiteVision.Tests.Layers;

public sealed class ActivationTests
{
    private static readonly float[] Inputs = [-4, -3, -1, 0, 1, 3, 4, 7];

    public static TheoryData<Activation, float[]> HandComputed => new()
    {
        { Activation.ReLU, [0, 0, 0, 0, 1, 3, 4, 7] },
        { Activation.ReLU6, [0, 0, 0, 0, 1, 3, 4, 6] },
        // relu6(x + 3) / 6
        { Activation.Hardsigmoid, [0, 0, 2f / 6, 0.5f, 4f / 6, 1, 1, 1] },
        // x · relu6(x + 3) / 6
        { Activation.Hardswish, [0, 0, -2f / 6, 0, 4f / 6, 3, 4, 7] },
        // x / (1 + e^-x): silu(1) = 0.7310586, silu(-1) = -0.2689414
        { Activation.SiLU, [-0.07194484f, -0.14227763f, -0.26894142f, 0, 0.7310586f, 2.8577223f, 3.9280552f, 6.9936175f] },
        { Activation.Sigmoid, [0.01798621f, 0.04742587f, 0.26894142f, 0.5f, 0.7310586f, 0.95257413f, 0.98201379f, 0.99908895f] },
    };

    [Theory, MemberData(nameof(HandComputed))]
    public void Activation_GivesHandComputedValues(Activation kind, float[] expected)
    {
        using var scope = NewDisposeScope();
        var module = Activations.Create(kind)!;
        TensorAssert.Close(expected, module.call(tensor(Inputs)), atol: 1e-6);
    }

    [Fact]
    public void None_CreatesNoModule() => Assert.Null(Activations.Create(Activation.None));
}
