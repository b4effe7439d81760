using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DiffTransformer.Kernels;

/// <summary>
/// Sizes of one attention call. Heads h = 0..H−1 each combine <see cref="Maps"/> softmax maps (2: differential,
/// 1: ordinary attention); map i of head h uses query sub-head h·Maps + i, key sub-head g·Maps + i and value head g,
/// with g = h / NRep (the flash files' GQA pairing). Query t sits at position S − T + t (causal, bottom-right).
/// </summary>
internal readonly record struct AttentionGeometry(int Batch, int QueryLen, int KeyLen, int Heads, int Maps, int NRep, int HeadDim, int ValueDim)
{
    public int KvGroups => Heads / NRep;
    public int QuerySubHeads => Heads * Maps;
    public int KeySubHeads => KvGroups * Maps;
    /// <summary>S − T: keys before the first query (a cached prefix).</summary>
    public int Offset => KeyLen - QueryLen;
    public float Scale => 1f / MathF.Sqrt(HeadDim);
}

/// <summary>
/// A float tensor of logical shape (B, rows, heads, width) addressed by strides in floats; the width is contiguous.
/// Element (b, r, h, c) lives at P + b·Batch + r·Row + h·Head + c.
/// </summary>
internal readonly unsafe struct Strided(float* p, nint batch, nint row, nint head)
{
    public float* P { get; } = p;
    public nint Batch { get; } = batch;
    public nint Row { get; } = row;
    public nint Head { get; } = head;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* At(int b, int row, int head) => P + b * Batch + row * Row + head * Head;

    /// <summary>A contiguous (B, rows, heads, width) block.</summary>
    public static Strided Contiguous(float* p, int rows, int heads, int width) =>
        new(p, (nint)rows * heads * width, (nint)heads * width, width);
}

/// <summary>
/// The exact blocked attention kernel, forward and backward, over raw float32 memory (see
/// <see cref="BlockedAttention"/> for the math and the design). Forward work items are (batch, head, query block),
/// longest first, taken from a shared counter by <c>threads</c> workers, each owning its scratch rows; every item
/// writes its own output rows. The backward's units are (batch, KV group, part), since a group's heads and query
/// blocks all add into the same keys: see <see cref="Backward"/> for how that stays deterministic.
/// </summary>
internal static unsafe class BlockedAttentionCore<TV> where TV : struct, ISimd<TV>
{
    /// <summary>Query rows per work item: a multiple of the GEMM's 6-row register block.</summary>
    public const int BlockRows = 48;

    // ---------------------------------------------------------------- forward

    /// <summary>out (B, T, H, dv) = Σ_i coef_i · softmax_i · V; lse (B, H, Maps, T) receives each row's log-sum-exp.</summary>
    public static void Forward(AttentionGeometry g, Strided q, Strided k, Strided v, float lambda, Strided output, float* lse, int threads)
    {
        int sPad = RoundUp(g.KeyLen, TV.Width);
        float* kt = Alloc((nint)g.Batch * g.KeySubHeads * g.HeadDim * sPad);
        try
        {
            TransposeAll(g.Batch, g.KeySubHeads, g.KeyLen, g.HeadDim, k, kt, sPad, threads);
            var job = new ForwardJob(g, q, kt, sPad, v, lambda, output, lse);
            Run(job.Items, threads, job.Worker);
        }
        finally
        {
            NativeMemory.AlignedFree(kt);
        }
    }

    private sealed class ForwardJob(AttentionGeometry g, Strided q, float* kt, int sPad, Strided v, float lambda, Strided output, float* lse)
    {
        private readonly int blocks = (g.QueryLen + BlockRows - 1) / BlockRows;
        private int next = -1;

        public int Items => g.Batch * g.Heads * blocks;

        public void Worker(int worker)
        {
            float* s = Alloc((nint)g.Maps * BlockRows * sPad);   // (Maps, Bq, S_pad): one block of logits per map
            try
            {
                int item;
                while ((item = Interlocked.Increment(ref next)) < Items) Block(item, s);
            }
            finally
            {
                NativeMemory.AlignedFree(s);
            }
        }

        private void Block(int item, float* s)
        {
            var (b, h, i0, m) = Decode(item, g, blocks);
            int n = g.Offset + i0 + m;                          // keys seen by the block's last row
            int nPad = RoundUp(n, TV.Width);
            int kvg = h / g.NRep, d = g.HeadDim;
            nint mapStride = (nint)BlockRows * sPad;
            for (int i = 0; i < g.Maps; i++)                    // S_i = Q_i K_iᵀ (unscaled), (m, nPad)
                Gemm<TV>.Run(m, nPad, d, q.At(b, i0, h * g.Maps + i), q.Row, 1,
                    kt + ((nint)b * g.KeySubHeads + kvg * g.Maps + i) * d * sPad, sPad, s + i * mapStride, sPad, false);

            float scale = g.Scale;
            float* rowLse = lse + ((nint)b * g.Heads + h) * g.Maps * g.QueryLen;
            for (int r = 0; r < m; r++)
            {
                int t = i0 + r, visible = g.Offset + t + 1;
                float* s1 = s + (nint)r * sPad;
                if (g.Maps == 1)
                {
                    float sum = ExpShifted(s1, visible, scale, out float lse1);
                    Scale(s1, visible, 1f / sum);                                   // P
                    rowLse[t] = lse1;
                }
                else
                {
                    // three passes over the two rows: both maxima, both exps and sums, then D = P1 − λ·P2
                    float* s2 = s1 + mapStride;
                    var (max1, max2) = MaxPair(s1, s2, visible);
                    var (sum1, sum2) = ExpPair(s1, s2, visible, scale, scale * max1, scale * max2);
                    Combine(s1, s2, visible, 1f / sum1, -lambda / sum2);
                    rowLse[t] = scale * max1 + MathF.Log(sum1);
                    rowLse[g.QueryLen + t] = scale * max2 + MathF.Log(sum2);
                }
                new Span<float>(s1 + visible, n - visible).Clear();              // causal: no weight on later keys
            }
            // O = D · V over the n visible keys: (m, n) · (n, dv)
            Gemm<TV>.Run(m, g.ValueDim, n, s, sPad, 1, v.At(b, 0, kvg), v.Row, output.At(b, i0, h), output.Row, false);
        }
    }

    // ---------------------------------------------------------------- backward

    /// <summary>
    /// The backward splits the work into at least this many units when it can: (batch, KV group) pairs, each cut into
    /// <see cref="Parts"/> parts when there are fewer pairs than this. A constant, not the thread count, so that the
    /// gradients do not depend on how many threads run.
    /// </summary>
    public const int MinUnits = 8;

    /// <summary>
    /// Parts per (batch, KV group): 1 when B·Hkv ≥ <see cref="MinUnits"/>, else ⌈MinUnits / (B·Hkv)⌉, at most the
    /// group's (block, head) items. Part p ≥ 1 accumulates into its own dK/dV copy.
    /// </summary>
    public static int Parts(AttentionGeometry g)
    {
        int groups = g.Batch * g.KvGroups, blocks = (g.QueryLen + BlockRows - 1) / BlockRows;
        return Math.Clamp((MinUnits + groups - 1) / groups, 1, Math.Max(1, g.NRep * blocks));
    }

    /// <summary>
    /// Gradients of Σ dO ⊙ out with respect to q, k, v (written into dq, dk, dv, all contiguous) and λ (returned).
    /// Recomputes each block's logits from q, k and the saved log-sum-exp.
    /// <para>
    /// Deterministic: a unit of work is (batch, KV group, part), and one worker does a unit's items in a fixed order,
    /// accumulating into dK/dV rows that only that unit's part index writes; the parts' copies are then added in part
    /// order and dλ summed in unit order. Which worker takes which unit (the shared counter) changes nothing, nor does
    /// the number of workers. <paramref name="reversed"/> hands the units out last first (a test switch).
    /// </para>
    /// </summary>
    public static double Backward(AttentionGeometry g, Strided q, Strided k, Strided v, float lambda, float* lse, Strided dOut,
        Strided dq, Strided dk, Strided dv, int threads, bool reversed = false)
    {
        int sPad = RoundUp(g.KeyLen, TV.Width);
        nint ktSize = (nint)g.Batch * g.KeySubHeads * g.HeadDim * sPad;
        nint vtSize = (nint)g.Batch * g.KvGroups * g.ValueDim * sPad;
        nint dkSize = (nint)g.Batch * g.KeyLen * g.KeySubHeads * g.HeadDim;
        nint dvSize = (nint)g.Batch * g.KeyLen * g.KvGroups * g.ValueDim;
        int parts = Parts(g);
        float* kt = Alloc(ktSize), vt = Alloc(vtSize);
        var partK = new nint[parts];
        var partV = new nint[parts];
        try
        {
            TransposeAll(g.Batch, g.KeySubHeads, g.KeyLen, g.HeadDim, k, kt, sPad, threads);
            TransposeAll(g.Batch, g.KvGroups, g.KeyLen, g.ValueDim, v, vt, sPad, threads);
            // part 0 accumulates straight into the outputs; the others into copies, added at the end in part order
            NativeMemory.Clear(dk.P, (nuint)dkSize * sizeof(float));
            NativeMemory.Clear(dv.P, (nuint)dvSize * sizeof(float));
            partK[0] = (nint)dk.P;
            partV[0] = (nint)dv.P;
            for (int p = 1; p < parts; p++)
            {
                partK[p] = (nint)AllocZeroed(dkSize);
                partV[p] = (nint)AllocZeroed(dvSize);
            }
            var job = new BackwardJob(g, q, kt, vt, sPad, k, lambda, lse, dOut, dq, partK, partV, reversed);
            Run(job.Units, threads, job.Worker);
            for (int p = 1; p < parts; p++)
            {
                AddInto(dk.P, (float*)partK[p], dkSize);
                AddInto(dv.P, (float*)partV[p], dvSize);
            }
            return job.LambdaGrad;
        }
        finally
        {
            NativeMemory.AlignedFree(kt);
            NativeMemory.AlignedFree(vt);
            for (int p = 1; p < parts; p++)
            {
                if (partK[p] != 0) NativeMemory.AlignedFree((void*)partK[p]);
                if (partV[p] != 0) NativeMemory.AlignedFree((void*)partV[p]);
            }
        }
    }

    private sealed class BackwardJob(AttentionGeometry g, Strided q, float* kt, float* vt, int sPad, Strided k, float lambda,
        float* lse, Strided dOut, Strided dq, nint[] partK, nint[] partV, bool reversed)
    {
        private readonly int blocks = (g.QueryLen + BlockRows - 1) / BlockRows;
        private readonly int parts = partK.Length;
        private readonly double[] lambdaGrads = new double[g.Batch * g.KvGroups * partK.Length];
        private int next = -1;

        /// <summary>(batch, KV group, part) triples, part fastest.</summary>
        public int Units => lambdaGrads.Length;

        /// <summary>Σ of the units' dλ in unit order.</summary>
        public double LambdaGrad
        {
            get
            {
                double sum = 0;
                foreach (double x in lambdaGrads) sum += x;
                return sum;
            }
        }

        public void Worker(int _)
        {
            nint mapStride = (nint)BlockRows * sPad;
            float* scratch = Alloc((g.Maps + 2) * mapStride);   // S/P/dS per map, then D, then dD
            try
            {
                int ticket;
                while ((ticket = Interlocked.Increment(ref next)) < Units)
                {
                    int unit = reversed ? Units - 1 - ticket : ticket;
                    lambdaGrads[unit] = Unit(unit, scratch);
                }
            }
            finally
            {
                NativeMemory.AlignedFree(scratch);
            }
        }

        /// <summary>
        /// One unit's items, in a fixed order: the group's (block, head) items are listed longest block first, heads
        /// within a block in order, and dealt to the parts like cards in a snake (0, 1, …, P−1, P−1, …, 0, 0, 1, …),
        /// which evens the parts' causal lengths out.
        /// </summary>
        private double Unit(int unit, float* scratch)
        {
            int part = unit % parts, pair = unit / parts;
            int b = pair / g.KvGroups, kvg = pair % g.KvGroups;
            var dkp = Strided.Contiguous((float*)partK[part], g.KeyLen, g.KeySubHeads, g.HeadDim);
            var dvp = Strided.Contiguous((float*)partV[part], g.KeyLen, g.KvGroups, g.ValueDim);
            int items = g.NRep * blocks;
            double dl = 0;
            for (int round = 0; round * parts < items; round++)
            {
                int j = round * parts + (round % 2 == 0 ? part : parts - 1 - part);
                if (j >= items) continue;
                int blk = blocks - 1 - j / g.NRep, i0 = blk * BlockRows;
                dl += Block(b, kvg * g.NRep + j % g.NRep, i0, Math.Min(BlockRows, g.QueryLen - i0), scratch, dkp, dvp);
            }
            return dl;
        }

        private double Block(int b, int h, int i0, int m, float* scratch, Strided dkp, Strided dvp)
        {
            int n = g.Offset + i0 + m;
            int nPad = RoundUp(n, TV.Width);
            int kvg = h / g.NRep, d = g.HeadDim, dvw = g.ValueDim;
            nint mapStride = (nint)BlockRows * sPad;
            float* s = scratch;                                  // (Maps, Bq, S_pad)
            float* dMat = scratch + g.Maps * mapStride;          // D = P1 − λ·P2 (or P), (Bq, S_pad)
            float* dD = dMat + mapStride;                        // dL/dD = dO · Vᵀ, (Bq, S_pad)
            for (int i = 0; i < g.Maps; i++)
                Gemm<TV>.Run(m, nPad, d, q.At(b, i0, h * g.Maps + i), q.Row, 1,
                    kt + ((nint)b * g.KeySubHeads + kvg * g.Maps + i) * d * sPad, sPad, s + i * mapStride, sPad, false);
            Gemm<TV>.Run(m, nPad, dvw, dOut.At(b, i0, h), dOut.Row, 1,
                vt + ((nint)b * g.KvGroups + kvg) * dvw * sPad, sPad, dD, sPad, false);

            float scale = g.Scale;
            float* rowLse = lse + ((nint)b * g.Heads + h) * g.Maps * g.QueryLen;
            double dLambda = 0;
            for (int r = 0; r < m; r++)
            {
                int t = i0 + r, visible = g.Offset + t + 1;
                float* p1 = s + (nint)r * sPad, dRow = dMat + (nint)r * sPad, ddRow = dD + (nint)r * sPad;
                if (g.Maps == 1)
                {
                    ExpFromLse(p1, visible, scale, rowLse[t]);                       // P
                    new Span<float>(p1, visible).CopyTo(new Span<float>(dRow, visible));
                    float delta = Dot(p1, ddRow, visible);
                    GradLogits(p1, ddRow, visible, delta, scale);                  // dS = P ⊙ (dP − δ) / √d
                }
                else
                {
                    // two passes: P1, P2, D = P1 − λ·P2 and δ_i = Σ_j P_i ⊙ dD; then dS_i in place
                    float* p2 = p1 + mapStride;
                    var (delta1, delta2) = RebuildPair(p1, p2, dRow, ddRow, visible, scale, rowLse[t], rowLse[g.QueryLen + t], lambda);
                    dLambda -= delta2;                                             // ∂/∂λ of Σ dD ⊙ (P1 − λP2)
                    GradLogitsPair(p1, p2, ddRow, visible, delta1, delta2, scale, -lambda * scale);
                    new Span<float>(p2 + visible, n - visible).Clear();
                }
                new Span<float>(p1 + visible, n - visible).Clear();
                new Span<float>(dRow + visible, n - visible).Clear();
            }
            // dV[0:n] += Dᵀ · dO: (n, m) · (m, dv)
            Gemm<TV>.Run(n, dvw, m, dMat, 1, sPad, dOut.At(b, i0, h), dOut.Row, dvp.At(b, 0, kvg), dvp.Row, true);
            for (int i = 0; i < g.Maps; i++)
            {
                float* dS = s + i * mapStride;
                int qs = h * g.Maps + i, ks = kvg * g.Maps + i;
                // dQ_i = dS_i · K_i: (m, n) · (n, d);  dK_i[0:n] += dS_iᵀ · Q_i: (n, m) · (m, d)
                Gemm<TV>.Run(m, d, n, dS, sPad, 1, k.At(b, 0, ks), k.Row, dq.At(b, i0, qs), dq.Row, false);
                Gemm<TV>.Run(n, d, m, dS, 1, sPad, q.At(b, i0, qs), q.Row, dkp.At(b, 0, ks), dkp.Row, true);
            }
            return dLambda;
        }
    }

    // ---------------------------------------------------------------- row operations

    /// <summary>x[j] ← exp(scale·x[j] − scale·max) for j &lt; n; returns Σ, and the row's log-sum-exp.</summary>
    private static float ExpShifted(float* x, int n, float scale, out float lse)
    {
        int w = TV.Width, j = 0;
        float max = float.NegativeInfinity;
        if (n >= w)
        {
            var mv = TV.Load(x);
            for (j = w; j + w <= n; j += w) mv = TV.Max(mv, TV.Load(x + j));
            max = TV.MaxAcross(mv);
        }
        for (; j < n; j++) max = MathF.Max(max, x[j]);
        var vs = TV.Splat(scale);
        var shift = TV.Splat(-scale * max);
        var acc = TV.Splat(0f);
        for (j = 0; j + w <= n; j += w)
        {
            var e = TV.Exp(TV.Fma(TV.Load(x + j), vs, shift));
            TV.Store(e, x + j);
            acc = TV.Add(acc, e);
        }
        float sum = TV.SumAcross(acc);
        for (; j < n; j++)
        {
            float e = MathF.Exp(x[j] * scale - scale * max);
            x[j] = e;
            sum += e;
        }
        lse = scale * max + MathF.Log(sum);
        return sum;
    }

    /// <summary>The maxima of two rows over j &lt; n, in one pass.</summary>
    private static (float, float) MaxPair(float* x1, float* x2, int n)
    {
        int w = TV.Width, j = 0;
        float m1 = float.NegativeInfinity, m2 = float.NegativeInfinity;
        if (n >= w)
        {
            var v1 = TV.Load(x1);
            var v2 = TV.Load(x2);
            for (j = w; j + w <= n; j += w)
            {
                v1 = TV.Max(v1, TV.Load(x1 + j));
                v2 = TV.Max(v2, TV.Load(x2 + j));
            }
            m1 = TV.MaxAcross(v1);
            m2 = TV.MaxAcross(v2);
        }
        for (; j < n; j++)
        {
            m1 = MathF.Max(m1, x1[j]);
            m2 = MathF.Max(m2, x2[j]);
        }
        return (m1, m2);
    }

    /// <summary>x_i[j] ← exp(scale·x_i[j] − shift_i) for both rows, j &lt; n, in one pass; returns both sums.</summary>
    private static (float, float) ExpPair(float* x1, float* x2, int n, float scale, float shift1, float shift2)
    {
        int w = TV.Width, j = 0;
        var vs = TV.Splat(scale);
        var sh1 = TV.Splat(-shift1);
        var sh2 = TV.Splat(-shift2);
        var a1 = TV.Splat(0f);
        var a2 = TV.Splat(0f);
        for (; j + w <= n; j += w)
        {
            var e1 = TV.Exp(TV.Fma(TV.Load(x1 + j), vs, sh1));
            var e2 = TV.Exp(TV.Fma(TV.Load(x2 + j), vs, sh2));
            TV.Store(e1, x1 + j);
            TV.Store(e2, x2 + j);
            a1 = TV.Add(a1, e1);
            a2 = TV.Add(a2, e2);
        }
        float sum1 = TV.SumAcross(a1), sum2 = TV.SumAcross(a2);
        for (; j < n; j++)
        {
            float e1 = MathF.Exp(x1[j] * scale - shift1), e2 = MathF.Exp(x2[j] * scale - shift2);
            x1[j] = e1;
            x2[j] = e2;
            sum1 += e1;
            sum2 += e2;
        }
        return (sum1, sum2);
    }

    /// <summary>
    /// One backward pass over a row pair: logits → P_i = exp(scale·s − lse_i) in place, D = P1 − λ·P2 into
    /// <paramref name="dst"/>, and δ_i = Σ_j P_i ⊙ dD.
    /// </summary>
    private static (float, float) RebuildPair(float* p1, float* p2, float* dst, float* dd, int n, float scale, float lse1, float lse2, float lambda)
    {
        int w = TV.Width, j = 0;
        var vs = TV.Splat(scale);
        var sh1 = TV.Splat(-lse1);
        var sh2 = TV.Splat(-lse2);
        var nl = TV.Splat(-lambda);
        var a1 = TV.Splat(0f);
        var a2 = TV.Splat(0f);
        for (; j + w <= n; j += w)
        {
            var e1 = TV.Exp(TV.Fma(TV.Load(p1 + j), vs, sh1));
            var e2 = TV.Exp(TV.Fma(TV.Load(p2 + j), vs, sh2));
            var g = TV.Load(dd + j);
            TV.Store(e1, p1 + j);
            TV.Store(e2, p2 + j);
            TV.Store(TV.Fma(e2, nl, e1), dst + j);
            a1 = TV.Fma(e1, g, a1);
            a2 = TV.Fma(e2, g, a2);
        }
        float d1 = TV.SumAcross(a1), d2 = TV.SumAcross(a2);
        for (; j < n; j++)
        {
            float e1 = MathF.Exp(p1[j] * scale - lse1), e2 = MathF.Exp(p2[j] * scale - lse2);
            p1[j] = e1;
            p2[j] = e2;
            dst[j] = e1 - lambda * e2;
            d1 += e1 * dd[j];
            d2 += e2 * dd[j];
        }
        return (d1, d2);
    }

    /// <summary>p_i[j] ← c_i·p_i[j]·(dd[j] − δ_i) for both rows in one pass.</summary>
    private static void GradLogitsPair(float* p1, float* p2, float* dd, int n, float delta1, float delta2, float c1, float c2)
    {
        int w = TV.Width, j = 0;
        var vd1 = TV.Splat(delta1);
        var vd2 = TV.Splat(delta2);
        var vc1 = TV.Splat(c1);
        var vc2 = TV.Splat(c2);
        for (; j + w <= n; j += w)
        {
            var g = TV.Load(dd + j);
            TV.Store(TV.Mul(TV.Mul(TV.Load(p1 + j), vc1), TV.Sub(g, vd1)), p1 + j);
            TV.Store(TV.Mul(TV.Mul(TV.Load(p2 + j), vc2), TV.Sub(g, vd2)), p2 + j);
        }
        for (; j < n; j++)
        {
            p1[j] = c1 * p1[j] * (dd[j] - delta1);
            p2[j] = c2 * p2[j] * (dd[j] - delta2);
        }
    }

    /// <summary>x[j] ← exp(scale·x[j] − lse) for j &lt; n: the softmax row from its saved log-sum-exp.</summary>
    private static void ExpFromLse(float* x, int n, float scale, float lse)
    {
        int w = TV.Width, j = 0;
        var vs = TV.Splat(scale);
        var shift = TV.Splat(-lse);
        for (; j + w <= n; j += w) TV.Store(TV.Exp(TV.Fma(TV.Load(x + j), vs, shift)), x + j);
        for (; j < n; j++) x[j] = MathF.Exp(x[j] * scale - lse);
    }

    private static void Scale(float* x, int n, float c)
    {
        int w = TV.Width, j = 0;
        var vc = TV.Splat(c);
        for (; j + w <= n; j += w) TV.Store(TV.Mul(TV.Load(x + j), vc), x + j);
        for (; j < n; j++) x[j] *= c;
    }

    /// <summary>x1[j] ← c1·x1[j] + c2·x2[j] (forward: D from the two unnormalised rows).</summary>
    private static void Combine(float* x1, float* x2, int n, float c1, float c2)
    {
        int w = TV.Width, j = 0;
        var v1 = TV.Splat(c1);
        var v2 = TV.Splat(c2);
        for (; j + w <= n; j += w) TV.Store(TV.Fma(TV.Load(x2 + j), v2, TV.Mul(TV.Load(x1 + j), v1)), x1 + j);
        for (; j < n; j++) x1[j] = c1 * x1[j] + c2 * x2[j];
    }

    /// <summary>dst[j] ← p1[j] + c·p2[j].</summary>
    private static void Combine(float* p1, float* p2, float* dst, int n, float c)
    {
        int w = TV.Width, j = 0;
        var vc = TV.Splat(c);
        for (; j + w <= n; j += w) TV.Store(TV.Fma(TV.Load(p2 + j), vc, TV.Load(p1 + j)), dst + j);
        for (; j < n; j++) dst[j] = p1[j] + c * p2[j];
    }

    private static float Dot(float* x, float* y, int n)
    {
        int w = TV.Width, j = 0;
        var acc = TV.Splat(0f);
        for (; j + w <= n; j += w) acc = TV.Fma(TV.Load(x + j), TV.Load(y + j), acc);
        float sum = TV.SumAcross(acc);
        for (; j < n; j++) sum += x[j] * y[j];
        return sum;
    }

    /// <summary>p[j] ← c·p[j]·(dp[j] − δ): the softmax backward, with the logit scale (and −λ) folded into c.</summary>
    private static void GradLogits(float* p, float* dp, int n, float delta, float c)
    {
        int w = TV.Width, j = 0;
        var vd = TV.Splat(delta);
        var vc = TV.Splat(c);
        for (; j + w <= n; j += w) TV.Store(TV.Mul(TV.Mul(TV.Load(p + j), vc), TV.Sub(TV.Load(dp + j), vd)), p + j);
        for (; j < n; j++) p[j] = c * p[j] * (dp[j] - delta);
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Work item → (batch, head, first query row, rows); the last (longest) query blocks come first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int B, int H, int Row0, int Rows) Decode(int item, AttentionGeometry g, int blocks)
    {
        int bh = g.Batch * g.Heads;
        int blk = blocks - 1 - item / bh;
        int rest = item % bh;
        int i0 = blk * BlockRows;
        return (rest / g.Heads, rest % g.Heads, i0, Math.Min(BlockRows, g.QueryLen - i0));
    }

    /// <summary>dst (B, heads, width, S_pad) ← src (B, S, heads, width) transposed per head; padding columns zeroed.</summary>
    private static void TransposeAll(int batch, int heads, int len, int width, Strided src, float* dst, int sPad, int threads)
    {
        var job = new TransposeJob(batch * heads, heads, len, width, src, dst, sPad);
        Run(batch * heads, threads, job.Worker);
    }

    private sealed class TransposeJob(int items, int heads, int len, int width, Strided src, float* dst, int sPad)
    {
        private int next = -1;

        public void Worker(int _)
        {
            int item;
            while ((item = Interlocked.Increment(ref next)) < items) One(item / heads, item % heads);
        }

        private void One(int b, int h)
        {
            float* o = dst + ((nint)b * heads + h) * width * sPad;
            const int tile = 16;
            for (int s0 = 0; s0 < len; s0 += tile)
            {
                int sEnd = Math.Min(len, s0 + tile);
                for (int c0 = 0; c0 < width; c0 += tile)
                {
                    int cEnd = Math.Min(width, c0 + tile);
                    for (int s = s0; s < sEnd; s++)
                    {
                        float* row = src.At(b, s, h);
                        for (int c = c0; c < cEnd; c++) o[(nint)c * sPad + s] = row[c];
                    }
                }
            }
            for (int c = 0; c < width; c++) new Span<float>(o + (nint)c * sPad + len, sPad - len).Clear();
        }
    }

    private static void AddInto(float* dst, float* src, nint count)
    {
        int w = TV.Width;
        nint j = 0;
        for (; j + w <= count; j += w) TV.Store(TV.Add(TV.Load(dst + j), TV.Load(src + j)), dst + j);
        for (; j < count; j++) dst[j] += src[j];
    }

    /// <summary>Runs <paramref name="worker"/> on <paramref name="workers"/> threads (the caller's among them).</summary>
    private static void Run(int items, int workers, Action<int> worker)
    {
        workers = Math.Max(1, Math.Min(workers, items));
        if (workers == 1) worker(0);
        else Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, worker);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RoundUp(int x, int w) => (x + w - 1) / w * w;

    private static float* Alloc(nint floats) => (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(floats, 1) * sizeof(float), 64);

    private static float* AllocZeroed(nint floats)
    {
        float* p = Alloc(floats);
        NativeMemory.Clear(p, (nuint)floats * sizeof(float));
        return p;
    }
}
