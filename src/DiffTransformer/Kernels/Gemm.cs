using System.Runtime.CompilerServices;

namespace DiffTransformer.Kernels;

/// <summary>
/// Single-threaded float32 matrix product for the attention kernels' block GEMMs: <c>C (+)= A·B</c> with
/// C (M×N, row stride ldc), B (K×N, row stride ldb) and A addressed through two strides, A(r, k) = a[r·ars + k·aks],
/// so that one routine serves A and Aᵀ (for Aᵀ, ars = 1 and aks is A's row stride). N must be a multiple of the
/// register width W; M and K are free.
/// <para>
/// Register blocking: 6 rows × 2 registers of C are held in 12 accumulators while k runs, each step loading two
/// registers of B and broadcasting six elements of A (8 loads per 12 FMAs). The k range is cut into chunks of
/// <see cref="KChunk"/> so that a 2W-wide panel of B stays in L1 while the row blocks of A pass over it.
/// </para>
/// </summary>
internal static unsafe class Gemm<TV> where TV : struct, ISimd<TV>
{
    /// <summary>Rows of A per k chunk: 256 × 2W floats of B (32 KB at W = 16) fit L1 with room for A.</summary>
    public const int KChunk = 256;

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

    private static void Zero(int m, int n, float* c, nint ldc)
    {
        for (int i = 0; i < m; i++) new Span<float>(c + i * ldc, n).Clear();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
