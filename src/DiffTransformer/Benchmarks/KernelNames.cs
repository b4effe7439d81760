using DiffTransformer.Kernels;

namespace DiffTransformer.Benchmarks;

/// <summary>Reports which kernel runs, so a table can say so.</summary>
public static class KernelNames
{
    public static string Of(Model.AttentionKernel k) => k.ToString().ToLowerInvariant();

    public static string SimdNote(int headDim, int valueDim) => BlockedAttention.WidthFor(headDim, valueDim) switch
    {
        16 => "blocked kernel on AVX-512",
        8 => "blocked kernel on AVX2",
        _ => "blocked kernel unavailable for these widths (falls back to fused)",
    };
}
