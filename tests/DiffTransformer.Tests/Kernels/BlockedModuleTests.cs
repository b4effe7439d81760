using DiffTransformer.Kernels;
using DiffTransformer.Model;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Kernels;

/// <summary>
/// The attention modules and the whole model with the blocked kernel against the explicit core: forward output and
/// every gradient (input and each parameter, λ vectors included), the cached prefill, and tensor lifetimes.
/// </summary>
[Collection("serial")]
public sealed class BlockedModuleTests(ITestOutputHelper log)
{
    /// <summary>Same weights, same input, one forward+backward per core; compares y, dx and every parameter's gradient.</summary>
    private void CompareLayers(Func<AttentionModule> build, int batch, int t, int embed)
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var reference = build();
        using var blocked = build();
        blocked.load_state_dict(reference.state_dict());
        reference.Kernel = AttentionKernel.Explicit;
        blocked.Kernel = AttentionKernel.Blocked;
        var x = randn(batch, t, embed);
        var dy = randn(batch, t, embed);

        var xr = x.clone().requires_grad_(true);
        var yr = reference.Forward(xr);
        yr.mul(dy).sum().backward();
        var xb = x.clone().requires_grad_(true);
        var yb = blocked.Forward(xb);
        yb.mul(dy).sum().backward();

        TensorAssert.Close(log, "forward y", yb, yr);
        TensorAssert.Close(log, "grad x", xb.grad!, xr.grad!);
        var expected = reference.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in blocked.named_parameters())
            TensorAssert.Close(log, "grad " + name, p.grad!, expected[name].grad!);
    }

    [Theory]
    [InlineData(64, 2, null, 2, 100, 0)]     // d = 16 (AVX-512 path), two query blocks and a short one
    [InlineData(128, 2, 1, 1, 130, 3)]       // d = 32, GQA n_rep 2, depth 3
    [InlineData(512, 4, null, 1, 64, 1)]     // the issue's layer shape, d = 64
    [InlineData(32, 2, null, 2, 50, 2)]      // d = 8: the AVX2 path
    public void DiffLayerMatchesTheExplicitCore(int embed, int heads, int? kv, int batch, int t, int depth)
    {
        log.WriteLine($"DIFF E {embed}, H {heads}, Hkv {kv?.ToString() ?? "H"}, B {batch}, T {t}, depth {depth}");
        CompareLayers(() => new DifferentialAttention(embed, depth, heads, kv), batch, t, embed);
    }

    [Theory]
    [InlineData(64, 4, null, 2, 100)]        // d = 16
    [InlineData(128, 4, 2, 1, 130)]          // d = 32, GQA
    [InlineData(32, 4, 2, 2, 50)]            // d = 8: AVX2
    public void BaselineLayerMatchesTheExplicitCore(int embed, int heads, int? kv, int batch, int t)
    {
        log.WriteLine($"baseline E {embed}, heads {heads}, KV heads {kv?.ToString() ?? "all"}, B {batch}, T {t}");
        CompareLayers(() => new MultiheadAttention(embed, 0, heads, kv), batch, t, embed);
    }

    [Fact]
    public void HeadWidthsTheKernelCannotTakeFallBackToLibtorch()
    {
        log.WriteLine("DIFF E 16, H 2: d = 4");
        CompareLayers(() => new DifferentialAttention(16, 0, 2), 2, 20, 16);
    }

    [Theory]
    [InlineData(Architecture.Diff, null)]
    [InlineData(Architecture.Diff, 1)]
    [InlineData(Architecture.Transformer, 1)]
    public void WholeModelMatchesTheExplicitCore(Architecture arch, int? kv)
    {
        var cfg = new ModelConfig { Arch = arch, VocabSize = 61, EmbedDim = 64, NumLayers = 2, NumHeads = 2, NumKvHeads = kv, FfnDim = 96, MaxSeqLen = 128 };
        using var scope = NewDisposeScope();
        manual_seed(12);
        using var reference = new LanguageModel(cfg) { Kernel = AttentionKernel.Explicit };
        // Matrices scaled up from the 0.02 init: sharper maps, and λ gradients well above float32 rounding of their sums.
        using (no_grad()) foreach (var p in reference.parameters()) if (p.dim() == 2) p.mul_(Scalars.Of(8));
        using var blocked = new LanguageModel(cfg) { Kernel = AttentionKernel.Blocked };
        blocked.load_state_dict(reference.state_dict());
        var tokens = randint(0, 61, [2, 70]);
        var targets = randint(0, 61, [2, 70]);

        var logitsR = reference.Forward(tokens);
        LanguageModel.CrossEntropy(logitsR, targets).backward();
        var logitsB = blocked.Forward(tokens);
        LanguageModel.CrossEntropy(logitsB, targets).backward();

        log.WriteLine($"{arch}, Hkv {kv?.ToString() ?? "H"}: E 64, d 16, L 2, B 2, T 70");
        TensorAssert.Close(log, "forward logits", logitsB, logitsR);
        var expected = reference.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in blocked.named_parameters())
            TensorAssert.Close(log, "grad " + name, p.grad!, expected[name].grad!);
    }

    [Theory]
    [InlineData(Architecture.Diff, null)]
    [InlineData(Architecture.Diff, 1)]
    [InlineData(Architecture.Transformer, 1)]
    public void CachedPrefillInChunksMatchesTheFullForward(Architecture arch, int? kv)
    {
        var cfg = new ModelConfig { Arch = arch, VocabSize = 50, EmbedDim = 64, NumLayers = 2, NumHeads = 2, NumKvHeads = kv, MaxSeqLen = 128 };
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        manual_seed(13);
        using var model = new LanguageModel(cfg) { Kernel = AttentionKernel.Explicit };
        var tokens = randint(0, 50, [2, 90]);
        var full = model.Forward(tokens);                                   // (B, T, V), explicit
        model.Kernel = AttentionKernel.Blocked;
        using var cache = model.CreateCache();
        var pieces = new List<Tensor>();
        foreach (var (from, len) in new[] { (0, 50), (50, 1), (51, 30), (81, 9) })  // chunks over a cached prefix (S > T)
            pieces.Add(model.Forward(tokens.narrow(1, from, len), cache));
        TensorAssert.Close(log, $"{arch} cached chunks vs full", cat(pieces, 1), full);
    }
}
