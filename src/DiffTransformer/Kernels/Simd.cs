using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DiffTransformer.Kernels;

/// <summary>
/// The few float operations the attention kernels need, over one SIMD register. Kernels are generic over this
/// interface with a struct argument, so the JIT compiles one specialised copy per width (the wrapper struct costs
/// nothing: its single field lives in a register). <see cref="V512"/> runs where AVX-512 is accelerated,
/// <see cref="V256"/> (AVX2) elsewhere.
/// </summary>
internal unsafe interface ISimd<TSelf> where TSelf : struct, ISimd<TSelf>
{
    /// <summary>Floats per register.</summary>
    static abstract int Width { get; }
    static abstract bool IsSupported { get; }
    static abstract TSelf Load(float* p);
    static abstract void Store(TSelf v, float* p);
    static abstract TSelf Splat(float x);
    static abstract TSelf Add(TSelf a, TSelf b);
    static abstract TSelf Sub(TSelf a, TSelf b);
    static abstract TSelf Mul(TSelf a, TSelf b);
    /// <summary>a·b + c, fused.</summary>
    static abstract TSelf Fma(TSelf a, TSelf b, TSelf c);
    static abstract TSelf Max(TSelf a, TSelf b);
    static abstract float SumAcross(TSelf v);
    static abstract float MaxAcross(TSelf v);
    /// <summary>eˣ to about 1 ulp for x ≥ −87 (smaller x give a denormal-free value below 1e-37, i.e. 0 for a softmax).</summary>
    static abstract TSelf Exp(TSelf x);
}

// Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, and Cephes' degree-6 minimax polynomial for eʳ (expf):
// about 1 ulp, and several times faster than Vector512.Exp, which computes in double.
file static class ExpConst
{
    public const float Log2E = 1.44269504088896341f;
    public const float Ln2Hi = 0.693359375f;
    public const float Ln2Lo = -2.12194440e-4f;
    public const float Lo = -87.0f;
    public const float Hi = 88.0f;
    public const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f;
    public const float P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
}

/// <summary>512-bit registers (16 floats).</summary>
internal unsafe struct V512 : ISimd<V512>
{
    public Vector512<float> V;

    public static int Width => 16;
    public static bool IsSupported => Vector512.IsHardwareAccelerated;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Load(float* p) => new() { V = Vector512.Load(p) };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(V512 v, float* p) => v.V.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Splat(float x) => new() { V = Vector512.Create(x) };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Add(V512 a, V512 b) => new() { V = a.V + b.V };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Sub(V512 a, V512 b) => new() { V = a.V - b.V };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Mul(V512 a, V512 b) => new() { V = a.V * b.V };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Fma(V512 a, V512 b, V512 c) => new() { V = Vector512.FusedMultiplyAdd(a.V, b.V, c.V) };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Max(V512 a, V512 b) => new() { V = Vector512.Max(a.V, b.V) };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(V512 v) => Vector512.Sum(v.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V512 v)
    {
        var m = Vector256.Max(v.V.GetLower(), v.V.GetUpper());
        var m4 = Vector128.Max(m.GetLower(), m.GetUpper());
        m4 = Vector128.Max(m4, Vector128.Shuffle(m4, Vector128.Create(2, 3, 0, 1)));
        m4 = Vector128.Max(m4, Vector128.Shuffle(m4, Vector128.Create(1, 0, 3, 2)));
        return m4.ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Exp(V512 v)
    {
        var x = Vector512.Min(Vector512.Max(v.V, Vector512.Create(ExpConst.Lo)), Vector512.Create(ExpConst.Hi));
        var n = Vector512.Floor(Vector512.FusedMultiplyAdd(x, Vector512.Create(ExpConst.Log2E), Vector512.Create(0.5f)));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-ExpConst.Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-ExpConst.Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(ExpConst.P0), r, Vector512.Create(ExpConst.P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(ExpConst.P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(ExpConst.P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(ExpConst.P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(ExpConst.P5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512.Create(1f));
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle(); // 2ⁿ
        return new() { V = p * scale };
    }
}

/// <summary>256-bit registers (8 floats): AVX2 machines.</summary>
internal unsafe struct V256 : ISimd<V256>
{
    public Vector256<float> V;

    public static int Width => 8;
    public static bool IsSupported => Vector256.IsHardwareAccelerated;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Load(float* p) => new() { V = Vector256.Load(p) };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(V256 v, float* p) => v.V.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Splat(float x) => new() { V = Vector256.Create(x) };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Add(V256 a, V256 b) => new() { V = a.V + b.V };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Sub(V256 a, V256 b) => new() { V = a.V - b.V };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Mul(V256 a, V256 b) => new() { V = a.V * b.V };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Fma(V256 a, V256 b, V256 c) => new() { V = Vector256.FusedMultiplyAdd(a.V, b.V, c.V) };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Max(V256 a, V256 b) => new() { V = Vector256.Max(a.V, b.V) };
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(V256 v) => Vector256.Sum(v.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V256 v)
    {
        var m4 = Vector128.Max(v.V.GetLower(), v.V.GetUpper());
        m4 = Vector128.Max(m4, Vector128.Shuffle(m4, Vector128.Create(2, 3, 0, 1)));
        m4 = Vector128.Max(m4, Vector128.Shuffle(m4, Vector128.Create(1, 0, 3, 2)));
        return m4.ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Exp(V256 v)
    {
        var x = Vector256.Min(Vector256.Max(v.V, Vector256.Create(ExpConst.Lo)), Vector256.Create(ExpConst.Hi));
        var n = Vector256.Floor(Vector256.FusedMultiplyAdd(x, Vector256.Create(ExpConst.Log2E), Vector256.Create(0.5f)));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-ExpConst.Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-ExpConst.Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(ExpConst.P0), r, Vector256.Create(ExpConst.P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(ExpConst.P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(ExpConst.P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(ExpConst.P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(ExpConst.P5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256.Create(1f));
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle(); // 2ⁿ
        return new() { V = p * scale };
    }
}
