using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace DiffTransformer.Kernels;

/// <summary>
/// Weight-only int8 matrix products for inference: <c>y[r, o] = s[o] · Σᵢ x[r, i] · W[o, i]</c> with x float32
/// (rows × in), W int8 (out × in, row-major: one output channel a row, as a Linear's weight) and one float32 scale per
/// output channel. The weights are widened to float in registers (AVX-512: 16 int8 → 16 int32 → 16 float, two
/// instructions; AVX2: 8 at a time; a scalar loop elsewhere) and multiplied with fused multiply-adds in float32, so the
/// result is the float product with the dequantised weights s[o]·W[o, i] up to the order of the additions. Where
/// AVX-512 BW is available the default is the integer path instead (<see cref="Int8MaddMatmul"/>: activations rounded to
/// 16 bits, about twice as fast, exact in integers).
/// <para>
/// Design. Decoding multiplies one row (rows = 1) by every weight once: the product is bound by reading W, which int8
/// makes 4× smaller than float32. Per step of 16 (W lanes) inputs, the 1 × 4 micro-kernel loads x once and four weight
/// rows (64 bytes), converts them and issues four FMAs into four independent accumulators; the 4 × 4 kernel (prefill,
/// batched decoding) loads four x rows and reuses each converted weight vector four times (16 accumulators). Output
/// channels are split across threads in blocks of <see cref="ChannelBlock"/>, so each thread streams its own part of W.
/// FLOPs: 2·rows·in·out. Memory: in·out bytes of W + 4·rows·(in + out) of x and y — for rows = 1, ≈ 1 byte per MAC
/// against float32's 4.
/// </para>
/// </summary>
public static unsafe class Int8Matmul
{
    /// <summary>Output channels per parallel work item.</summary>
    public const int ChannelBlock = 64;

    /// <summary>Instruction set the next products use (tests force the narrower paths); null: the widest the CPU has.</summary>
    internal static Int8Isa? ForcedIsa { get; set; }

    /// <summary>The widest path this CPU runs.</summary>
    public static Int8Isa BestIsa => Int8MaddMatmul.IsSupported ? Int8Isa.Avx512Madd : Avx512F.IsSupported ? Int8Isa.Avx512 : Avx2.IsSupported && Fma.IsSupported ? Int8Isa.Avx2 : Int8Isa.Scalar;

    /// <summary>
    /// <paramref name="x"/> [..., in] float32 CPU times the int8 <paramref name="weight"/> [out, in] with per-channel
    /// <paramref name="scale"/> [out] → [..., out] float32. No autograd: inference only.
    /// </summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor scale, int threads)
    {
        if (x.dtype != ScalarType.Float32 || x.device_type != TorchSharp.DeviceType.CPU) throw new ArgumentException($"int8 matmul: the input must be float32 on the CPU, got {x.dtype} on {x.device_type}");
        if (weight.dtype != ScalarType.Int8 || weight.dim() != 2) throw new ArgumentException($"int8 matmul: the weight must be a 2-D int8 tensor, got {weight.dtype} [{string.Join(", ", weight.shape)}]");
        long outDim = weight.shape[0], inDim = weight.shape[1];
        if (x.shape[^1] != inDim) throw new ArgumentException($"int8 matmul: input width {x.shape[^1]} ≠ the weight's {inDim}");
        if (scale.dtype != ScalarType.Float32 || scale.shape.Length != 1 || scale.shape[0] != outDim)
            throw new ArgumentException($"int8 matmul: the scale must be float32 [{outDim}], got {scale.dtype} [{string.Join(", ", scale.shape)}]");
        if (x.requires_grad) throw new InvalidOperationException("int8 weights are for inference: no gradient flows through them (run under no_grad)");
        long rows = x.numel() / inDim;
        using var xc = x.reshape(rows, inDim).contiguous();
        using var wc = weight.contiguous();
        using var sc = scale.contiguous();
        var shape = x.shape.ToArray();
        shape[^1] = outDim;
        var y = empty(shape, dtype: ScalarType.Float32);
        Run((float*)Address(xc), checked((int)rows), checked((int)inDim), (sbyte*)Address(wc), (float*)Address(sc), checked((int)outDim), (float*)Address(y),
            threads, ForcedIsa ?? BestIsa);
        return y;
    }

    private static void* Address(Tensor t) => Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));

    /// <summary>The product on raw memory: x rows × in, w out × in, y rows × out, all row-major and dense.</summary>
    public static void Run(float* x, int rows, int inDim, sbyte* w, float* scale, int outDim, float* y, int threads, Int8Isa isa)
    {
        if (isa == Int8Isa.Avx512 && !Avx512F.IsSupported) throw new PlatformNotSupportedException("AVX-512 is not available");
        if (isa == Int8Isa.Avx2 && !(Avx2.IsSupported && Fma.IsSupported)) throw new PlatformNotSupportedException("AVX2 with FMA is not available");
        if (isa == Int8Isa.Avx512Madd && !Int8MaddMatmul.IsSupported) throw new PlatformNotSupportedException("AVX-512 BW is not available");
        int blocks = (outDim + ChannelBlock - 1) / ChannelBlock;
        (nint Xq, nint Sx) scratch = isa == Int8Isa.Avx512Madd ? Int8MaddMatmul.Allocate(rows, inDim) : default;
        short* xq = (short*)scratch.Xq;
        float* sx = (float*)scratch.Sx;
        void Block(int b)
        {
            int o0 = b * ChannelBlock, o1 = Math.Min(outDim, o0 + ChannelBlock);
            switch (isa)
            {
                case Int8Isa.Avx512Madd: Int8MaddMatmul.Channels(xq, sx, rows, inDim, w, scale, outDim, y, o0, o1); break;
                case Int8Isa.Avx512: Channels512(x, rows, inDim, w, scale, outDim, y, o0, o1); break;
                case Int8Isa.Avx2: Channels256(x, rows, inDim, w, scale, outDim, y, o0, o1); break;
                default: ChannelsScalar(x, rows, inDim, w, scale, outDim, y, o0, o1); break;
            }
        }
        try
        {
            if (isa == Int8Isa.Avx512Madd) Int8MaddMatmul.QuantizeRows(x, rows, inDim, xq, sx);
            if (threads <= 1 || blocks == 1)
                for (int b = 0; b < blocks; b++) Block(b);
            else
                Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads }, Block);
        }
        finally
        {
            if (isa == Int8Isa.Avx512Madd) Int8MaddMatmul.Free(scratch);
        }
    }

    // --------------------------------------------------------------------------------------------------------- AVX-512

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen16(sbyte* p) => Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(p)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Channels512(float* x, int rows, int n, sbyte* w, float* scale, int outDim, float* y, int o0, int o1)
    {
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            int o = o0;
            for (; o + 4 <= o1; o += 4) Micro4x4_512(x + (long)r * n, n, w + (long)o * n, scale + o, y + (long)r * outDim + o, outDim);
            for (; o < o1; o++)
                for (int rr = r; rr < r + 4; rr++) y[(long)rr * outDim + o] = scale[o] * Dot512(x + (long)rr * n, w + (long)o * n, n);
        }
        for (; r < rows; r++)
        {
            int o = o0;
            for (; o + 4 <= o1; o += 4) Micro1x4_512(x + (long)r * n, n, w + (long)o * n, scale + o, y + (long)r * outDim + o);
            for (; o < o1; o++) y[(long)r * outDim + o] = scale[o] * Dot512(x + (long)r * n, w + (long)o * n, n);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Micro1x4_512(float* x, int n, sbyte* w, float* scale, float* y)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        sbyte* w1 = w + n, w2 = w + 2 * n, w3 = w + 3 * n;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var xv = Vector512.Load(x + i);
            a0 = Vector512.FusedMultiplyAdd(Widen16(w + i), xv, a0);
            a1 = Vector512.FusedMultiplyAdd(Widen16(w1 + i), xv, a1);
            a2 = Vector512.FusedMultiplyAdd(Widen16(w2 + i), xv, a2);
            a3 = Vector512.FusedMultiplyAdd(Widen16(w3 + i), xv, a3);
        }
        Finish4(x, n, w, i, scale, y, 0, 0, Vector512.Sum(a0), Vector512.Sum(a1), Vector512.Sum(a2), Vector512.Sum(a3));
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Micro4x4_512(float* x, int n, sbyte* w, float* scale, float* y, int ldy)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        float* x1 = x + n, x2 = x + 2 * n, x3 = x + 3 * n;
        sbyte* w1 = w + n, w2 = w + 2 * n, w3 = w + 3 * n;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var v0 = Widen16(w + i);
            var v1 = Widen16(w1 + i);
            var v2 = Widen16(w2 + i);
            var v3 = Widen16(w3 + i);
            var xv = Vector512.Load(x + i);
            a00 = Vector512.FusedMultiplyAdd(v0, xv, a00); a01 = Vector512.FusedMultiplyAdd(v1, xv, a01);
            a02 = Vector512.FusedMultiplyAdd(v2, xv, a02); a03 = Vector512.FusedMultiplyAdd(v3, xv, a03);
            xv = Vector512.Load(x1 + i);
            a10 = Vector512.FusedMultiplyAdd(v0, xv, a10); a11 = Vector512.FusedMultiplyAdd(v1, xv, a11);
            a12 = Vector512.FusedMultiplyAdd(v2, xv, a12); a13 = Vector512.FusedMultiplyAdd(v3, xv, a13);
            xv = Vector512.Load(x2 + i);
            a20 = Vector512.FusedMultiplyAdd(v0, xv, a20); a21 = Vector512.FusedMultiplyAdd(v1, xv, a21);
            a22 = Vector512.FusedMultiplyAdd(v2, xv, a22); a23 = Vector512.FusedMultiplyAdd(v3, xv, a23);
            xv = Vector512.Load(x3 + i);
            a30 = Vector512.FusedMultiplyAdd(v0, xv, a30); a31 = Vector512.FusedMultiplyAdd(v1, xv, a31);
            a32 = Vector512.FusedMultiplyAdd(v2, xv, a32); a33 = Vector512.FusedMultiplyAdd(v3, xv, a33);
        }
        Finish4(x, n, w, i, scale, y, ldy, 0, Vector512.Sum(a00), Vector512.Sum(a01), Vector512.Sum(a02), Vector512.Sum(a03));
        Finish4(x1, n, w, i, scale, y, ldy, 1, Vector512.Sum(a10), Vector512.Sum(a11), Vector512.Sum(a12), Vector512.Sum(a13));
        Finish4(x2, n, w, i, scale, y, ldy, 2, Vector512.Sum(a20), Vector512.Sum(a21), Vector512.Sum(a22), Vector512.Sum(a23));
        Finish4(x3, n, w, i, scale, y, ldy, 3, Vector512.Sum(a30), Vector512.Sum(a31), Vector512.Sum(a32), Vector512.Sum(a33));
    }

    private static float Dot512(float* x, sbyte* w, int n)
    {
        Vector512<float> a = default;
        int i = 0;
        for (; i + 16 <= n; i += 16) a = Vector512.FusedMultiplyAdd(Widen16(w + i), Vector512.Load(x + i), a);
        float s = Vector512.Sum(a);
        for (; i < n; i++) s += x[i] * w[i];
        return s;
    }

    // ------------------------------------------------------------------------------------------------------------ AVX2

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Widen8(sbyte* p) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Channels256(float* x, int rows, int n, sbyte* w, float* scale, int outDim, float* y, int o0, int o1)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * n;
            int o = o0;
            for (; o + 4 <= o1; o += 4)
            {
                sbyte* w0 = w + (long)o * n, w1 = w0 + n, w2 = w1 + n, w3 = w2 + n;
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                int i = 0;
                for (; i + 8 <= n; i += 8)
                {
                    var xv = Vector256.Load(xr + i);
                    a0 = Fma.MultiplyAdd(Widen8(w0 + i), xv, a0);
                    a1 = Fma.MultiplyAdd(Widen8(w1 + i), xv, a1);
                    a2 = Fma.MultiplyAdd(Widen8(w2 + i), xv, a2);
                    a3 = Fma.MultiplyAdd(Widen8(w3 + i), xv, a3);
                }
                Finish4(xr, n, w0, i, scale + o, y + (long)r * outDim + o, 0, 0, Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3));
            }
            for (; o < o1; o++)
            {
                sbyte* wo = w + (long)o * n;
                Vector256<float> a = default;
                int i = 0;
                for (; i + 8 <= n; i += 8) a = Fma.MultiplyAdd(Widen8(wo + i), Vector256.Load(xr + i), a);
                float s = Vector256.Sum(a);
                for (; i < n; i++) s += xr[i] * wo[i];
                y[(long)r * outDim + o] = scale[o] * s;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------- scalar

    private static void ChannelsScalar(float* x, int rows, int n, sbyte* w, float* scale, int outDim, float* y, int o0, int o1)
    {
        for (int r = 0; r < rows; r++)
            for (int o = o0; o < o1; o++)
            {
                float s = 0;
                float* xr = x + (long)r * n;
                sbyte* wo = w + (long)o * n;
                for (int i = 0; i < n; i++) s += xr[i] * wo[i];
                y[(long)r * outDim + o] = scale[o] * s;
            }
    }

    /// <summary>Adds the tail (inputs from <paramref name="i"/> on) of four channel sums of row <paramref name="row"/> and writes them scaled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish4(float* xr, int n, sbyte* w, int i, float* scale, float* y, int ldy, int row, float s0, float s1, float s2, float s3)
    {
        sbyte* w1 = w + n, w2 = w + 2 * n, w3 = w + 3 * n;
        for (; i < n; i++)
        {
            float xi = xr[i];
            s0 += xi * w[i];
            s1 += xi * w1[i];
            s2 += xi * w2[i];
            s3 += xi * w3[i];
        }
        float* yr = y + (long)row * ldy;
        yr[0] = scale[0] * s0;
        yr[1] = scale[1] * s1;
        yr[2] = scale[2] * s2;
        yr[3] = scale[3] * s3;
    }
}
