using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DiffTransformer.Kernels;

/// <summary>
/// <see cref="Int8Matmul"/>'s integer path (<see cref="Int8Isa.Avx512Madd"/>): each row of x is rounded to 16 bits,
/// x[r, i] ≈ sx[r]·xq[r, i] with sx[r] = max_i |x[r, i]| / 32767 and xq int16, and the products run in integers,
/// <code>
///   y[r, o] = s[o] · sx[r] · Σᵢ W[o, i]·xq[r, i]          (the sum exact in int32/int64)
/// </code>
/// with <c>vpmaddwd</c> (32 int16 × int16 products summed in pairs into 16 int32 per instruction) after widening 32
/// weights to int16 with one <c>vpmovsxbw</c> — three instructions per 32 weights against the float path's six, whose
/// int8 → int32 → float widening is what bounds it (docs/BENCHMARKS.md). The result is the float product with the
/// dequantised weights and the activations rounded to 16 bits (relative error ≤ 2⁻¹⁶ of a row's largest |x| per input),
/// and exactly — up to the final two float multiplications — the product of the integers, which the tests check.
/// Overflow: a lane of <c>vpmaddwd</c> adds two products of at most 127·32767, so an int32 lane holds 256 iterations
/// (8,192 inputs) safely; longer rows are summed in chunks of that many into int64.
/// </summary>
internal static unsafe class Int8MaddMatmul
{
    /// <summary>Inputs per int32 accumulation chunk (256 iterations of 32).</summary>
    private const int Chunk = 8192;

    public static bool IsSupported => Avx512BW.IsSupported;

    /// <summary>Rounds each row of x to int16 (rows × <paramref name="n"/> into <paramref name="xq"/>) and returns nothing; <paramref name="sx"/>[r] is the row's step.</summary>
    public static void QuantizeRows(float* x, int rows, int n, short* xq, float* sx)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * n;
            float max = 0;
            for (int i = 0; i < n; i++) max = MathF.Max(max, MathF.Abs(xr[i]));
            short* q = xq + (long)r * n;
            if (!float.IsFinite(max))                                            // a NaN or ∞ in the row: let it reach y, as a float product would
            {
                for (int i = 0; i < n; i++) q[i] = 0;
                sx[r] = float.NaN;
                continue;
            }
            float step = max > 0 ? max / 32767f : 1f;
            float inv = 1f / step;
            for (int i = 0; i < n; i++) q[i] = (short)Math.Clamp(MathF.Round(xr[i] * inv), -32767f, 32767f);
            sx[r] = step;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Channels(short* xq, float* sx, int rows, int n, sbyte* w, float* scale, int outDim, float* y, int o0, int o1)
    {
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            int o = o0;
            for (; o + 4 <= o1; o += 4) Micro4x4(xq + (long)r * n, sx + r, n, w + (long)o * n, scale + o, y + (long)r * outDim + o, outDim);
            for (; o < o1; o++)
                for (int rr = r; rr < r + 4; rr++) y[(long)rr * outDim + o] = (float)((double)scale[o] * sx[rr] * Dot(xq + (long)rr * n, w + (long)o * n, n));
        }
        // A single row (decoding) reads each weight once: channel after channel, so the block's weights are one
        // sequential stream (four interleaved rows measured 6–8 GB/s from DRAM here, one stream 23 GB/s).
        for (; r < rows; r++)
            for (int o = o0; o < o1; o++) y[(long)r * outDim + o] = (float)((double)scale[o] * sx[r] * Dot(xq + (long)r * n, w + (long)o * n, n));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Widen32(sbyte* p) => Avx512BW.ConvertToVector512Int16(Vector256.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Madd(Vector512<short> a, Vector512<short> b) => Avx512BW.MultiplyAddAdjacent(a, b);

    /// <summary>The 16 int32 lanes summed without overflow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Total(Vector512<int> v)
    {
        var (lo, hi) = Vector512.Widen(v);
        return Vector512.Sum(lo + hi);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Micro4x4(short* x, float* sx, int n, sbyte* w, float* scale, float* y, int ldy)
    {
        var t = stackalloc long[16];
        for (int k = 0; k < 16; k++) t[k] = 0;
        short* x1 = x + n, x2 = x + 2 * n, x3 = x + 3 * n;
        sbyte* w1 = w + n, w2 = w + 2 * n, w3 = w + 3 * n;
        int i = 0;
        while (i + 32 <= n)
        {
            Vector512<int> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
            Vector512<int> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
            int end = Math.Min(n - 31, i + Chunk);
            for (; i < end; i += 32)
            {
                var v0 = Widen32(w + i);
                var v1 = Widen32(w1 + i);
                var v2 = Widen32(w2 + i);
                var v3 = Widen32(w3 + i);
                var xv = Vector512.Load(x + i);
                a00 += Madd(v0, xv); a01 += Madd(v1, xv); a02 += Madd(v2, xv); a03 += Madd(v3, xv);
                xv = Vector512.Load(x1 + i);
                a10 += Madd(v0, xv); a11 += Madd(v1, xv); a12 += Madd(v2, xv); a13 += Madd(v3, xv);
                xv = Vector512.Load(x2 + i);
                a20 += Madd(v0, xv); a21 += Madd(v1, xv); a22 += Madd(v2, xv); a23 += Madd(v3, xv);
                xv = Vector512.Load(x3 + i);
                a30 += Madd(v0, xv); a31 += Madd(v1, xv); a32 += Madd(v2, xv); a33 += Madd(v3, xv);
            }
            t[0] += Total(a00); t[1] += Total(a01); t[2] += Total(a02); t[3] += Total(a03);
            t[4] += Total(a10); t[5] += Total(a11); t[6] += Total(a12); t[7] += Total(a13);
            t[8] += Total(a20); t[9] += Total(a21); t[10] += Total(a22); t[11] += Total(a23);
            t[12] += Total(a30); t[13] += Total(a31); t[14] += Total(a32); t[15] += Total(a33);
        }
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++)
            {
                long s = t[4 * r + c];
                short* xr = x + (long)r * n;
                sbyte* wc = w + (long)c * n;
                for (int j = i; j < n; j++) s += xr[j] * wc[j];
                y[(long)r * ldy + c] = (float)((double)scale[c] * sx[r] * s);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Dot(short* x, sbyte* w, int n)
    {
        long s = 0;
        int i = 0;
        while (i + 128 <= n)
        {
            Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default;
            int end = Math.Min(n - 127, i + Chunk);
            for (; i < end; i += 128)
            {
                a0 += Madd(Widen32(w + i), Vector512.Load(x + i));
                a1 += Madd(Widen32(w + i + 32), Vector512.Load(x + i + 32));
                a2 += Madd(Widen32(w + i + 64), Vector512.Load(x + i + 64));
                a3 += Madd(Widen32(w + i + 96), Vector512.Load(x + i + 96));
            }
            s += Total(a0) + Total(a1) + Total(a2) + Total(a3);
        }
        if (i + 32 <= n)
        {
            Vector512<int> a = default;
            for (; i + 32 <= n; i += 32) a += Madd(Widen32(w + i), Vector512.Load(x + i));
            s += Total(a);
        }
        for (; i < n; i++) s += x[i] * w[i];
        return s;
    }

    /// <summary>Scratch for the rounded rows: rows·n int16 and rows floats, from native memory (freed by the caller).</summary>
    public static (nint Xq, nint Sx) Allocate(int rows, int n) =>
        ((nint)NativeMemory.AlignedAlloc((nuint)((long)rows * n * 2 + 64), 64), (nint)NativeMemory.AlignedAlloc((nuint)(rows * 4 + 64), 64));

    public static void Free((nint Xq, nint Sx) scratch)
    {
        NativeMemory.AlignedFree((void*)scratch.Xq);
        NativeMemory.AlignedFree((void*)scratch.Sx);
    }
}
