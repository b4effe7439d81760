using BenchmarkDotNet.Attributes;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Microbenchmarks;

/// <summary>One attention layer, E = 512, H = 4 (d = 64), B = 1: forward+backward by core and architecture.</summary>
[MemoryDiagnoser(false)]
public class AttentionLayerBenchmarks
{
    private AttentionModule? attn;
    private Tensor? x;

    [Params(512, 2048)] public int T { get; set; }
    [Params(Architecture.Diff, Architecture.Transformer)] public Architecture Arch { get; set; }
    [Params(AttentionKernel.Explicit, AttentionKernel.Fused, AttentionKernel.Blocked)] public AttentionKernel Kernel { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        set_num_threads(Environment.ProcessorCount);
        manual_seed(0);
        attn = Arch == Architecture.Diff ? new DifferentialAttention(512, 0, 4) : new MultiheadAttention(512, 0, 8);
        attn.Kernel = Kernel;
        x = randn(1, T, 512).requires_grad_(true);
    }

    [Benchmark]
    public void ForwardBackward()
    {
        using var scope = NewDisposeScope();
        attn!.Forward(x!).sum().backward();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        attn?.Dispose();
        x?.Dispose();
    }
}
