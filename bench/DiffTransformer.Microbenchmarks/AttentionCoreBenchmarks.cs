using BenchmarkDotNet.Attributes;
using DiffTransformer.Kernels;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffTransformer.Microbenchmarks;

/// <summary>
/// The differential attention core alone (no projections), H = 4, d = 64, B = 1, forward+backward:
/// the blocked kernel against the two scaled_dot_product_attention calls of the fused path.
/// </summary>
[MemoryDiagnoser(false)]
public class AttentionCoreBenchmarks
{
    private Tensor? q, k, v, lambda;

    [Params(512, 2048)] public int T { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        set_num_threads(Environment.ProcessorCount);
        manual_seed(0);
        q = randn(1, T, 8, 64).requires_grad_(true);      // (B, T, 2H, d)
        k = randn(1, T, 8, 64).requires_grad_(true);      // (B, T, 2H, d)
        v = randn(1, T, 4, 128).requires_grad_(true);     // (B, T, H, 2d)
        lambda = tensor(0.3f).requires_grad_(true);
    }

    [Benchmark(Baseline = true)]
    public void TwoSdpaCalls()
    {
        using var scope = NewDisposeScope();
        var qt = q!.transpose(1, 2);                                                     // (B, 2H, T, d)
        var kt = k!.transpose(1, 2);                                                     // (B, 2H, T, d)
        var vx = v!.transpose(1, 2).unsqueeze(2).expand(1, 4, 2, T, 128).reshape(1, 8, T, 128); // (B, 2H, T, 2d)
        var oA = F.scaled_dot_product_attention(qt, kt, vx.narrow(-1, 0, 64), is_casual: true);
        var oB = F.scaled_dot_product_attention(qt, kt, vx.narrow(-1, 64, 64), is_casual: true);
        var o = cat([oA, oB], -1).view(1, 4, 2, T, 128);
        o.select(2, 0).sub(o.select(2, 1).mul(lambda!)).sum().backward();
    }

    [Benchmark]
    public void Blocked()
    {
        using var scope = NewDisposeScope();
        BlockedAttention.Differential(q!, k!, v!, lambda!).sum().backward();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { q, k, v, lambda }) t?.Dispose();
    }
}
