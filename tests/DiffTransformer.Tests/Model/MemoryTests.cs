using DiffTransformer.Model;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Model;

[Collection("serial")]
public sealed class MemoryTests(ITestOutputHelper log)
{
    /// <summary>
    /// Without any dispose scope of the caller's, 50 forward/backward steps must not leave tensors behind:
    /// every temporary inside the model is released by the model's own scopes.
    /// </summary>
    [Theory]
    [InlineData(Architecture.Diff, AttentionKernel.Fused)]
    [InlineData(Architecture.Diff, AttentionKernel.Explicit)]
    [InlineData(Architecture.Transformer, AttentionKernel.Fused)]
    [InlineData(Architecture.Diff, AttentionKernel.Blocked, 64)]        // d 16: the AVX-512 code where there is one
    [InlineData(Architecture.Diff, AttentionKernel.Blocked)]            // d 8: the AVX2 code
    public void FiftyStepsLeaveLiveTensorCountFlat(Architecture arch, AttentionKernel kernel, int embedDim = 32)
    {
        manual_seed(31);
        var cfg = new ModelConfig { Arch = arch, VocabSize = 40, EmbedDim = embedDim, NumLayers = 2, NumHeads = 2, NumKvHeads = 1 };
        using var model = new LanguageModel(cfg) { Kernel = kernel };
        using var tokens = randint(0, 40, [2, 16]);
        using var targets = randint(0, 40, [2, 16]);
        var counts = new List<long>();
        for (int step = 0; step < 50; step++)
        {
            using (var logits = model.Forward(tokens))
            using (var loss = LanguageModel.CrossEntropy(logits, targets))
                loss.backward();
            model.zero_grad();
            counts.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount); // this thread's tensors: other tests run in parallel
        }
        log.WriteLine($"live tensors after steps 1, 5, 50: {counts[0]}, {counts[4]}, {counts[49]}");
        Assert.Equal(counts[4], counts[49]);
        Assert.True(counts[49] - counts[0] <= 2, $"grew from {counts[0]} to {counts[49]}");
    }
}

/// <summary>Tests that measure process-wide state run alone.</summary>
[CollectionDefinition("serial", DisableParallelization = true)]
public sealed class SerialCollection;
