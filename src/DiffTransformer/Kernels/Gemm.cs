using System.Runtime.CompilerServices;

namespace DiffTransformer.Kernels;

/// <summary>
/// Single-threaded float32 matrix product for the attention kernels' block GEMMs: <c>C (+)= A·B</c> with
/// C (M×N, row stride ldc), B (K×N, row stride ldb) and A addressed through two strides, A(r, k) = a[r·ars + k·aks],
/// so that one routine serves A and Aᵀ (for Aᵀ, ars = 1 and aks is A's row stride). N must be a multiple of the
/// register width W; M and K are free.
/// <para>
/// Register blocking: a 6-row × 4-register tile of C is held in 24 accumulators while k runs, each step loading four
/// registers of B and broadcasting six elements of A (10 loads per 24 FMAs). That needs the 32 vector registers of
/// AVX-512 machines; with 16 (AVX2 only) the tile is 6 × 2 (12 accumulators). Narrower column and row remainders use
/// smaller tiles. The k range is cut into chunks of <see cref="KChunk"/> so that the B panel stays in L1/L2 while the row
/// blocks of A pass over it. The micro-kernels are separate methods, compiled fully optimised at first call: inlined
/// into one large method the JIT allocated their registers worse (measured 2–3× slower).
/// </para>
/// </summary>
internal static unsafe class Gemm<TV> where TV : struct, ISimd<TV>
{
    /// <summary>Rows of B per k chunk: 256 × 4W floats (64 KB at W = 16) stay in L2 while A's row blocks pass.</summary>
    public const int KChunk = 256;

    /// <summary>Whether the JIT has 32 vector registers (AVX-512 hardware), so that the 6 × 4 tile fits.</summary>
    private static bool WideTile => System.Runtime.Intrinsics.X86.Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int m, int n, int k, float* a, nint ars, nint aks, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        int w = TV.Width;
        if (m <= 0 || n <= 0) return;
        if (n % w != 0) throw new ArgumentException($"GEMM width N = {n} is not a multiple of the register width {w}");
        if (k <= 0)
        {
            if (!accumulate) Zero(m, n, c, ldc);
            return;
        }
        for (int k0 = 0; k0 < k; k0 += KChunk)
        {
            int kc = Math.Min(KChunk, k - k0);
            bool acc = accumulate || k0 > 0;
            float* ak = a + k0 * aks;
            float* bk = b + k0 * ldb;
            int j = 0;
            if (WideTile)
            {
                for (; j + 4 * w <= n; j += 4 * w)
                {
                    int i = 0;
                    for (; i + 6 <= m; i += 6) Micro6x4(kc, ak + i * ars, ars, aks, bk + j, ldb, c + i * ldc + j, ldc, acc);
                    for (; i < m; i++) Micro1x4(kc, ak + i * ars, aks, bk + j, ldb, c + i * ldc + j, acc);
                }
            }
            for (; j + 2 * w <= n; j += 2 * w)
            {
                int i = 0;
                for (; i + 6 <= m; i += 6) Micro6x2(kc, ak + i * ars, ars, aks, bk + j, ldb, c + i * ldc + j, ldc, acc);
                for (; i < m; i++) Micro1x2(kc, ak + i * ars, aks, bk + j, ldb, c + i * ldc + j, acc);
            }
            if (j < n) // one register of columns left
            {
                int i = 0;
                for (; i + 6 <= m; i += 6) Micro6x1(kc, ak + i * ars, ars, aks, bk + j, ldb, c + i * ldc + j, ldc, acc);
                for (; i < m; i++) Micro1x1(kc, ak + i * ars, aks, bk + j, ldb, c + i * ldc + j, acc);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Micro6x4(int kc, float* a, nint ars, nint aks, float* b, nint ldb, float* c, nint ldc, bool acc)
    {
        int w = TV.Width;
        nint r2 = 2 * ars, r3 = 3 * ars, r4 = 4 * ars, r5 = 5 * ars;
        TV c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        TV c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        TV c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default, c53 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = TV.Load(b);
            var b1 = TV.Load(b + w);
            var b2 = TV.Load(b + 2 * w);
            var b3 = TV.Load(b + 3 * w);
            var x = TV.Splat(a[0]); c00 = TV.Fma(x, b0, c00); c01 = TV.Fma(x, b1, c01); c02 = TV.Fma(x, b2, c02); c03 = TV.Fma(x, b3, c03);
            x = TV.Splat(a[ars]); c10 = TV.Fma(x, b0, c10); c11 = TV.Fma(x, b1, c11); c12 = TV.Fma(x, b2, c12); c13 = TV.Fma(x, b3, c13);
            x = TV.Splat(a[r2]); c20 = TV.Fma(x, b0, c20); c21 = TV.Fma(x, b1, c21); c22 = TV.Fma(x, b2, c22); c23 = TV.Fma(x, b3, c23);
            x = TV.Splat(a[r3]); c30 = TV.Fma(x, b0, c30); c31 = TV.Fma(x, b1, c31); c32 = TV.Fma(x, b2, c32); c33 = TV.Fma(x, b3, c33);
            x = TV.Splat(a[r4]); c40 = TV.Fma(x, b0, c40); c41 = TV.Fma(x, b1, c41); c42 = TV.Fma(x, b2, c42); c43 = TV.Fma(x, b3, c43);
            x = TV.Splat(a[r5]); c50 = TV.Fma(x, b0, c50); c51 = TV.Fma(x, b1, c51); c52 = TV.Fma(x, b2, c52); c53 = TV.Fma(x, b3, c53);
            a += aks;
            b += ldb;
        }
        Put(c, w, c00, c01, acc); Put(c + 2 * w, w, c02, c03, acc); c += ldc;
        Put(c, w, c10, c11, acc); Put(c + 2 * w, w, c12, c13, acc); c += ldc;
        Put(c, w, c20, c21, acc); Put(c + 2 * w, w, c22, c23, acc); c += ldc;
        Put(c, w, c30, c31, acc); Put(c + 2 * w, w, c32, c33, acc); c += ldc;
        Put(c, w, c40, c41, acc); Put(c + 2 * w, w, c42, c43, acc); c += ldc;
        Put(c, w, c50, c51, acc); Put(c + 2 * w, w, c52, c53, acc);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Micro1x4(int kc, float* a, nint aks, float* b, nint ldb, float* c, bool acc)
    {
        int w = TV.Width;
        TV c0 = default, c1 = default, c2 = default, c3 = default;
        for (int k = 0; k < kc; k++)
        {
            var x = TV.Splat(*a);
            c0 = TV.Fma(x, TV.Load(b), c0);
            c1 = TV.Fma(x, TV.Load(b + w), c1);
            c2 = TV.Fma(x, TV.Load(b + 2 * w), c2);
            c3 = TV.Fma(x, TV.Load(b + 3 * w), c3);
            a += aks;
            b += ldb;
        }
        Put(c, w, c0, c1, acc);
        Put(c + 2 * w, w, c2, c3, acc);
    }

    private static void Zero(int m, int n, float* c, nint ldc)
    {
        for (int i = 0; i < m; i++) new Span<float>(c + i * ldc, n).Clear();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Micro6x2(int kc, float* a, nint ars, nint aks, float* b, nint ldb, float* c, nint ldc, bool acc)
    {
        int w = TV.Width;
        nint r2 = 2 * ars, r3 = 3 * ars, r4 = 4 * ars, r5 = 5 * ars;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TV c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = TV.Load(b);
            var b1 = TV.Load(b + w);
            var x = TV.Splat(a[0]); c00 = TV.Fma(x, b0, c00); c01 = TV.Fma(x, b1, c01);
            x = TV.Splat(a[ars]); c10 = TV.Fma(x, b0, c10); c11 = TV.Fma(x, b1, c11);
            x = TV.Splat(a[r2]); c20 = TV.Fma(x, b0, c20); c21 = TV.Fma(x, b1, c21);
            x = TV.Splat(a[r3]); c30 = TV.Fma(x, b0, c30); c31 = TV.Fma(x, b1, c31);
            x = TV.Splat(a[r4]); c40 = TV.Fma(x, b0, c40); c41 = TV.Fma(x, b1, c41);
            x = TV.Splat(a[r5]); c50 = TV.Fma(x, b0, c50); c51 = TV.Fma(x, b1, c51);
            a += aks;
            b += ldb;
        }
        Put(c, w, c00, c01, acc); c += ldc;
        Put(c, w, c10, c11, acc); c += ldc;
        Put(c, w, c20, c21, acc); c += ldc;
        Put(c, w, c30, c31, acc); c += ldc;
        Put(c, w, c40, c41, acc); c += ldc;
        Put(c, w, c50, c51, acc);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Micro6x1(int kc, float* a, nint ars, nint aks, float* b, nint ldb, float* c, nint ldc, bool acc)
    {
        nint r2 = 2 * ars, r3 = 3 * ars, r4 = 4 * ars, r5 = 5 * ars;
        TV c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = TV.Load(b);
            c0 = TV.Fma(TV.Splat(a[0]), b0, c0);
            c1 = TV.Fma(TV.Splat(a[ars]), b0, c1);
            c2 = TV.Fma(TV.Splat(a[r2]), b0, c2);
            c3 = TV.Fma(TV.Splat(a[r3]), b0, c3);
            c4 = TV.Fma(TV.Splat(a[r4]), b0, c4);
            c5 = TV.Fma(TV.Splat(a[r5]), b0, c5);
            a += aks;
            b += ldb;
        }
        Put(c, c0, acc); c += ldc;
        Put(c, c1, acc); c += ldc;
        Put(c, c2, acc); c += ldc;
        Put(c, c3, acc); c += ldc;
        Put(c, c4, acc); c += ldc;
        Put(c, c5, acc);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Micro1x2(int kc, float* a, nint aks, float* b, nint ldb, float* c, bool acc)
    {
        int w = TV.Width;
        TV c0 = default, c1 = default;
        for (int k = 0; k < kc; k++)
        {
            var x = TV.Splat(*a);
            c0 = TV.Fma(x, TV.Load(b), c0);
            c1 = TV.Fma(x, TV.Load(b + w), c1);
            a += aks;
            b += ldb;
        }
        Put(c, w, c0, c1, acc);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Micro1x1(int kc, float* a, nint aks, float* b, nint ldb, float* c, bool acc)
    {
        TV c0 = default;
        for (int k = 0; k < kc; k++)
        {
            c0 = TV.Fma(TV.Splat(*a), TV.Load(b), c0);
            a += aks;
            b += ldb;
        }
        Put(c, c0, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* c, int w, TV v0, TV v1, bool acc)
    {
        if (acc)
        {
            v0 = TV.Add(v0, TV.Load(c));
            v1 = TV.Add(v1, TV.Load(c + w));
        }
        TV.Store(v0, c);
        TV.Store(v1, c + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* c, TV v0, bool acc)
    {
        if (acc) v0 = TV.Add(v0, TV.Load(c));
        TV.Store(v0, c);
    }
}
