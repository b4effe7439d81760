using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Kernels;

/// <summary>
/// Exact causal attention on the CPU without a T×T tensor: differential (two maps per head, <c>(A1 − λ·A2)·V</c>)
/// or ordinary (one map), forward and backward, as TorchSharp autograd functions.
/// <para>
/// Design. Work is split into (batch, head, block of 48 query rows). For a block the kernel computes every map's
/// logits against the whole causal prefix at once (<c>Q_i·K_iᵀ</c>, one GEMM per map into a per-thread buffer of
/// 48 × S floats), takes each row's exact softmax in place (max, exp, sum — no online rescaling, since the whole row
/// is at hand), forms <c>D = P1 − λ·P2</c> and multiplies V once: <c>O = D·V</c>. So the differential forward does
/// the FLOPs of the baseline's (QKᵀ for 2H sub-heads of width d, one product with the 2d-wide value per head),
/// where two scaled_dot_product_attention calls (one per half of the value) do twice that. Memory is O(48·S) per
/// thread: linear in the sequence. Saved for backward: q, k, v and each row's log-sum-exp per map.
/// </para>
/// <para>
/// The backward recomputes a block's logits, rebuilds P1, P2 and D from the saved log-sum-exp, and runs
/// <c>dD = dO·Vᵀ</c>, <c>dV += Dᵀ·dO</c>, <c>dS_i = c_i·P_i ⊙ (dD − rowsum(P_i ⊙ dD))</c> with c₁ = 1/√d,
/// c₂ = −λ/√d, <c>dQ_i = dS_i·K_i</c>, <c>dK_i += dS_iᵀ·Q_i</c> and <c>dλ = −Σ P2 ⊙ dD</c> — again the baseline's
/// FLOPs. The block GEMMs are <see cref="Gemm{TV}"/> (register-blocked FMA on AVX-512 or AVX2), the row passes
/// SIMD with a polynomial exp; work items run on as many threads as libtorch uses (<c>get_num_threads()</c>).
/// </para>
/// <para>
/// Determinism. The forward's items each write their own output rows, so it needs nothing. In the backward, every
/// head of a KV group and every query block adds into the same keys' dK and dV (and all into dλ), and float sums
/// depend on their order; so its work is scheduled in units of (batch, KV group, part) instead of single items: one
/// worker does all of a unit's (block, head) items in a fixed order, straight into the unit's own rows of dK and dV.
/// When there are fewer than 8 (batch, KV group) pairs, each is cut into P = ⌈8 / (B·Hkv)⌉ parts (its items dealt
/// to the parts in a snake, longest blocks first, so the parts are of about equal length), part p ≥ 1 accumulating
/// into a dK/dV copy of its own; the copies are added in part order, and the units' dλ summed in unit order. The
/// bits therefore depend on the shapes alone: not on which worker takes which unit, nor on the thread count
/// (<c>tests/…/Kernels/BlockedDeterminismTests</c>). Memory: the copies take (P − 1)·B·S·Hkv·(Maps·d + dv) floats,
/// less than 8·S·(Maps·d + dv) floats whatever B and the heads (64 MiB at S 8192, d 64), and none when
/// B·Hkv ≥ 8; before, each extra thread held a full copy. Cost: no extra FLOPs; measured side by side
/// on 2 threads, old and new backward within the machine's noise (0.94–1.11× for one layer and the <c>small</c> model,
/// docs/BENCHMARKS.md). What is given up is granularity: at most max(8, B·Hkv) units, so more than that many threads
/// cannot all be busy in the backward, and a unit's tail cannot be shared out among idle threads.
/// </para>
/// Inputs are in the projection's own (B, T, heads, width) layout, so no transposes are needed around the call.
/// CPU and float32 only (see <see cref="Supports"/>); the modules fall back to libtorch elsewhere.
/// </summary>
public static class BlockedAttention
{
    /// <summary>
    /// Differential attention core: q (B, T, 2H, d) with sub-heads 2h, 2h+1 = Q1, Q2 of head h; k (B, S, 2Hkv, d)
    /// likewise; v (B, S, Hkv, 2d); λ a 0-d tensor (gradients flow into it). Returns (B, T, H, 2d):
    /// head h = (softmax(Q1K1ᵀ/√d) − λ·softmax(Q2K2ᵀ/√d))·V_g, g = h / n_rep, causal with query t at S − T + t.
    /// </summary>
    public static Tensor Differential(Tensor q, Tensor k, Tensor v, Tensor lambda)
    {
        if (lambda.numel() != 1) throw new ArgumentException($"λ must be a single value, got shape [{string.Join(", ", lambda.shape)}]");
        var g = Geometry(q, k, v, maps: 2);
        if (NeedsGraph(q, k, v, lambda)) return DifferentialFunction.apply(q, k, v, lambda);
        using var scope = NewDisposeScope();
        return ForwardOnly(g, q, k, v, lambda.item<float>()).MoveToOuterDisposeScope();
    }

    /// <summary>Ordinary causal attention core: q (B, T, H, d), k (B, S, Hkv, d), v (B, S, Hkv, dv) → (B, T, H, dv).</summary>
    public static Tensor Standard(Tensor q, Tensor k, Tensor v)
    {
        var g = Geometry(q, k, v, maps: 1);
        if (NeedsGraph(q, k, v, null)) return StandardFunction.apply(q, k, v);
        using var scope = NewDisposeScope();
        return ForwardOnly(g, q, k, v, 0f).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Whether the kernel can take these operands: float32 on the CPU, and head widths d and dv that are multiples of
    /// a SIMD register (16 floats with AVX-512, else 8 with AVX2). Anything else stays on libtorch.
    /// </summary>
    public static bool Supports(DeviceType device, ScalarType dtype, long headDim, long valueDim) =>
        device == DeviceType.CPU && dtype == ScalarType.Float32 && WidthFor(headDim, valueDim) is not null;

    /// <summary>
    /// The register width that runs for these head widths: 16 (AVX-512) when both are multiples of 16, else 8 (AVX2)
    /// when both are multiples of 8, else null (the kernel is unavailable).
    /// </summary>
    public static int? WidthFor(long headDim, long valueDim)
    {
        bool avx512 = V512.IsSupported && System.Runtime.Intrinsics.X86.Avx512F.IsSupported && ForcedWidth != 8;
        bool avx2 = V256.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;
        if (avx512 && headDim % 16 == 0 && valueDim % 16 == 0) return 16;
        if (avx2 && headDim % 8 == 0 && valueDim % 8 == 0) return 8;
        return null;
    }

    /// <summary>Tests set 8 to run the AVX2 code on an AVX-512 machine; null restores the automatic choice.</summary>
    internal static int? ForcedWidth { get; set; }

    /// <summary>Tests set a worker count for the kernel instead of libtorch's <c>get_num_threads()</c>; null restores it.</summary>
    internal static int? ForcedThreads { get; set; }

    /// <summary>
    /// Tests set true to hand the backward's work out in reverse order (a different worker takes each piece of work):
    /// the gradients must not change, bit for bit.
    /// </summary>
    internal static bool ReversedSchedule { get; set; }

    // ---------------------------------------------------------------- plumbing

    private static bool NeedsGraph(Tensor q, Tensor k, Tensor v, Tensor? lambda) =>
        is_grad_enabled() && (q.requires_grad || k.requires_grad || v.requires_grad || (lambda?.requires_grad ?? false));

    private static AttentionGeometry Geometry(Tensor q, Tensor k, Tensor v, int maps)
    {
        if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4)
            throw new ArgumentException($"q, k, v must be (B, T, heads, width); got [{Shape(q)}], [{Shape(k)}], [{Shape(v)}]");
        if (!Supports(q.device_type, q.dtype, q.shape[^1], v.shape[^1]) || v.dtype != q.dtype)
            throw new ArgumentException($"the blocked kernel needs float32 CPU tensors with head widths divisible by 8 (AVX2) or 16 (AVX-512); got {q.dtype} on {q.device}, d = {q.shape[^1]}, dv = {v.shape[^1]}");
        long b = q.shape[0], t = q.shape[1], qSub = q.shape[2], d = q.shape[3];
        long s = k.shape[1], kSub = k.shape[2], hkv = v.shape[2], dv = v.shape[3];
        if (k.shape[0] != b || v.shape[0] != b || v.shape[1] != s || k.shape[3] != d || k.dtype != ScalarType.Float32)
            throw new ArgumentException($"q [{Shape(q)}], k [{Shape(k)}] and v [{Shape(v)}] disagree in batch, key length or d");
        if (qSub % maps != 0 || kSub != hkv * maps || (qSub / maps) % hkv != 0)
            throw new ArgumentException($"{qSub} query sub-heads, {kSub} key sub-heads and {hkv} value heads do not form {maps}-map heads with whole KV groups");
        if (s < t) throw new ArgumentException($"key length {s} is shorter than the query length {t}");
        int h = (int)(qSub / maps);
        return new AttentionGeometry(checked((int)b), checked((int)t), checked((int)s), h, maps, h / (int)hkv, (int)d, checked((int)dv));
    }

    private static string Shape(Tensor t) => string.Join(", ", t.shape);

    private static Tensor ForwardOnly(AttentionGeometry g, Tensor q, Tensor k, Tensor v, float lambda)
    {
        var output = empty(g.Batch, g.QueryLen, g.Heads, g.ValueDim);          // (B, T, H, dv)
        using var lse = empty(g.Batch, g.Heads, g.Maps, g.QueryLen);           // (B, H, Maps, T)
        RunForward(g, q, k, v, lambda, output, lse);
        return output;
    }

    private static unsafe void RunForward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, float lambda, Tensor output, Tensor lse)
    {
        using var qc = q.contiguous();
        using var kc = k.contiguous();
        using var vc = v.contiguous();
        var qs = View(qc, g.QueryLen, g.QuerySubHeads, g.HeadDim);
        var ks = View(kc, g.KeyLen, g.KeySubHeads, g.HeadDim);
        var vs = View(vc, g.KeyLen, g.KvGroups, g.ValueDim);
        var os = View(output, g.QueryLen, g.Heads, g.ValueDim);
        float* l = Pointer(lse);
        int threads = Threads;
        if (WidthFor(g.HeadDim, g.ValueDim) == 16) BlockedAttentionCore<V512>.Forward(g, qs, ks, vs, lambda, os, l, threads);
        else BlockedAttentionCore<V256>.Forward(g, qs, ks, vs, lambda, os, l, threads);
    }

    /// <returns>dλ (0 for one map).</returns>
    private static unsafe double RunBackward(AttentionGeometry g, Tensor q, Tensor k, Tensor v, float lambda, Tensor lse, Tensor gradOut,
        Tensor dq, Tensor dk, Tensor dv)
    {
        using var qc = q.contiguous();
        using var kc = k.contiguous();
        using var vc = v.contiguous();
        using var lc = lse.contiguous();
        using var go = gradOut.contiguous();
        var qs = View(qc, g.QueryLen, g.QuerySubHeads, g.HeadDim);
        var ks = View(kc, g.KeyLen, g.KeySubHeads, g.HeadDim);
        var vs = View(vc, g.KeyLen, g.KvGroups, g.ValueDim);
        var gs = View(go, g.QueryLen, g.Heads, g.ValueDim);
        var dqs = View(dq, g.QueryLen, g.QuerySubHeads, g.HeadDim);
        var dks = View(dk, g.KeyLen, g.KeySubHeads, g.HeadDim);
        var dvs = View(dv, g.KeyLen, g.KvGroups, g.ValueDim);
        int threads = Threads;
        return WidthFor(g.HeadDim, g.ValueDim) == 16
            ? BlockedAttentionCore<V512>.Backward(g, qs, ks, vs, lambda, Pointer(lc), gs, dqs, dks, dvs, threads, ReversedSchedule)
            : BlockedAttentionCore<V256>.Backward(g, qs, ks, vs, lambda, Pointer(lc), gs, dqs, dks, dvs, threads, ReversedSchedule);
    }

    private static int Threads => Math.Max(1, ForcedThreads ?? get_num_threads());

    private static unsafe float* Pointer(Tensor t)
    {
        if (!t.is_contiguous() || t.dtype != ScalarType.Float32 || t.device_type != DeviceType.CPU)
            throw new InvalidOperationException("internal: kernel operands must be contiguous float32 CPU tensors");
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
    }

    private static unsafe Strided View(Tensor t, int rows, int heads, int width) => Strided.Contiguous(Pointer(t), rows, heads, width);

    /// <summary>
    /// Gradients handed back to libtorch are copied by it as soon as the backward returns, but our handles must stay
    /// valid until then, so they cannot be disposed inside the backward. They are released at the next backward on the
    /// same thread instead (at most one call's gradients are held).
    /// </summary>
    private static class Handed
    {
        [ThreadStatic] private static List<Tensor>? held;

        public static void ReleasePrevious()
        {
            if (held is null) return;
            foreach (var t in held) t.Dispose();
            held.Clear();
        }

        public static Tensor Keep(Tensor t)
        {
            (held ??= []).Add(t.DetachFromDisposeScope());
            return t;
        }
    }

    private static void CheckGradient(string name, Tensor grad, Tensor input)
    {
        // A gradient of the wrong shape aborts the process inside libtorch; fail here, in managed code, instead.
        if (!grad.shape.SequenceEqual(input.shape))
            throw new InvalidOperationException($"internal: gradient of {name} has shape [{Shape(grad)}], the input [{Shape(input)}]");
    }

    private sealed class DifferentialFunction : autograd.SingleTensorFunction<DifferentialFunction>
    {
        public override string Name => "BlockedDifferentialAttention";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            Tensor q = (Tensor)vars[0], k = (Tensor)vars[1], v = (Tensor)vars[2], lambda = (Tensor)vars[3];
            float lam = lambda.item<float>();
            ctx.save_data("lambda", lam);
            ctx.save_data("lambda_shape", lambda.shape);
            return SaveAndRunForward(ctx, q, k, v, maps: 2, lam);                  // (B, T, H, 2d)
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            Handed.ReleasePrevious();
            using var scope = NewDisposeScope();
            var (dq, dk, dv, dl) = RunSavedBackward(ctx, gradOutput, (float)ctx.get_data("lambda"));
            using var dl32 = ((float)dl).ToScalar();                     // held to the end (Scalars.cs says why)
            var dLambda = full((long[])ctx.get_data("lambda_shape"), dl32, dtype: ScalarType.Float32);
            return [Handed.Keep(dq), Handed.Keep(dk), Handed.Keep(dv), Handed.Keep(dLambda)];
        }
    }

    private sealed class StandardFunction : autograd.SingleTensorFunction<StandardFunction>
    {
        public override string Name => "BlockedAttention";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars) =>
            SaveAndRunForward(ctx, (Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], maps: 1, lambda: 0f);   // (B, T, H, dv)

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            Handed.ReleasePrevious();
            using var scope = NewDisposeScope();
            var (dq, dk, dv, _) = RunSavedBackward(ctx, gradOutput, 0f);
            return [Handed.Keep(dq), Handed.Keep(dk), Handed.Keep(dv)];
        }
    }

    /// <summary>Both functions' forward: runs the kernel and saves q, k, v, each row's log-sum-exp and the geometry.</summary>
    private static Tensor SaveAndRunForward(autograd.AutogradContext ctx, Tensor q, Tensor k, Tensor v, int maps, float lambda)
    {
        var g = Geometry(q, k, v, maps);
        var output = empty(g.Batch, g.QueryLen, g.Heads, g.ValueDim);    // (B, T, H, dv)
        var lse = empty(g.Batch, g.Heads, maps, g.QueryLen);             // (B, H, maps, T)
        RunForward(g, q, k, v, lambda, output, lse);
        ctx.save_for_backward([q, k, v, lse]);
        ctx.save_data("geometry", g);
        return output;
    }

    /// <summary>Both functions' backward from what <see cref="SaveAndRunForward"/> saved: dq, dk, dv (checked) and dλ.</summary>
    private static (Tensor Dq, Tensor Dk, Tensor Dv, double DLambda) RunSavedBackward(autograd.AutogradContext ctx, Tensor gradOutput, float lambda)
    {
        var saved = ctx.get_saved_variables();
        Tensor q = saved[0], k = saved[1], v = saved[2], lse = saved[3];
        var g = (AttentionGeometry)ctx.get_data("geometry");
        var dq = empty(q.shape);
        var dk = empty(k.shape);
        var dv = empty(v.shape);
        double dl = RunBackward(g, q, k, v, lambda, lse, gradOutput, dq, dk, dv);
        CheckGradient("q", dq, q);
        CheckGradient("k", dk, k);
        CheckGradient("v", dv, v);
        gradOutput.Dispose();
        return (dq, dk, dv, dl);
    }
}
