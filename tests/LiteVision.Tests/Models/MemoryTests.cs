using System.Diagnostics;
using LiteVision.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LiteVision.Tests.Models;

/// <summary>Native memory must not grow with the number of forward passes (each model call has its own dispose scope).</summary>
public sealed class MemoryTests
{
    [Fact]
    public void TwoHundredForwards_LeaveNoLiveTensors_AndFlatResidentMemory()
    {
        using ImageClassifier model = ModelZoo.Create("mobilenet_v3_small", new ModelOptions { NumClasses = 10 });
        model.eval();
        using Tensor input = randn(4, 3, 96, 96);
        using (no_grad())
        {
            for (int i = 0; i < 20; i++) model.call(input).Dispose();   // warm-up: allocator pools, kernels
        }
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long residentBefore = ResidentBytes();
        using (no_grad())
        {
            for (int i = 0; i < 200; i++)
            {
                using Tensor logits = model.call(input);   // the caller owns only the logits
            }
        }
        long liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long growth = ResidentBytes() - residentBefore;
        Assert.Equal(liveBefore, liveAfter);
        // Without the scope, 200 forwards of this size grow by hundreds of MB; allow allocator noise only.
        Assert.True(growth < 40L << 20, $"resident memory grew by {growth >> 20} MiB over 200 forwards");
    }

    [Fact]
    public void TrainingSteps_InAScope_LeaveNoLiveTensors()
    {
        using ImageClassifier model = ModelZoo.Create("mobilenet_v2", new ModelOptions { NumClasses = 4, WidthMultiplier = 0.25 });
        model.train();
        using var optimizer = optim.SGD(model.parameters(), 0.01);
        using Tensor input = randn(4, 3, 32, 32);
        using Tensor target = tensor(new long[] { 0, 1, 2, 3 });
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 10; i++)
        {
            using var step = NewDisposeScope();
            optimizer.zero_grad();
            Tensor loss = nn.functional.cross_entropy(model.call(input), target);
            loss.backward();
            optimizer.step();
        }
        // Gradients are created once and then reused; nothing else may survive the steps.
        long created = model.parameters().Count();
        Assert.InRange(DisposeScopeManager.Statistics.ThreadTotalLiveCount - liveBefore, 0, created);
    }

    private static long ResidentBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }
}
