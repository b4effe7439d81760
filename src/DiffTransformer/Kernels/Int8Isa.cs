namespace DiffTransformer.Kernels;

/// <summary>The instruction sets <see cref="Int8Matmul"/> has a path for.</summary>
public enum Int8Isa
{
    /// <summary>Plain C# loops: any CPU.</summary>
    Scalar,
    /// <summary>256-bit registers with FMA: 8 weights widened at a time.</summary>
    Avx2,
    /// <summary>512-bit registers: 16 weights widened to float at a time (float activations).</summary>
    Avx512,
    /// <summary>
    /// 512-bit integer products (<see cref="Int8MaddMatmul"/>): activations rounded to 16 bits per row, 32 weights a
    /// <c>vpmaddwd</c>; the default where AVX-512 BW is available.
    /// </summary>
    Avx512Madd,
}
