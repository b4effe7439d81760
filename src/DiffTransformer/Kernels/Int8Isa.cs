namespace DiffTransformer.Kernels;

/// <summary>The instruction sets <see cref="Int8Matmul"/> has a path for.</summary>
public enum Int8Isa
{
    /// <summary>Plain C# loops: any CPU.</summary>
    Scalar,
    /// <summary>256-bit registers with FMA: 8 weights widened at a time.</summary>
    Avx2,
    /// <summary>512-bit registers: 16 weights widened at a time.</summary>
    Avx512,
}
