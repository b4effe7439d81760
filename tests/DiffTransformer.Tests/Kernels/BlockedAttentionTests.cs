using DiffTransformer.Kernels;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Kernels;

/// <summary>
/// The blocked kernel's core against the attention formula evaluated in float64 with libtorch (explicit maps,
/// bottom-right causal mask): the output and the gradients of q, k, v and λ. Shapes cover query lengths that are not a
/// multiple of the 48-row block, a cached prefix (S &gt; T), GQA, batches, and both SIMD widths.
/// The class runs alone because some cases force the AVX2 width, a process-wide switch.
/// </summary>
[Collection("serial")]
public sealed class BlockedAttentionTests(ITestOutputHelper log)
{
    /// <summary>(B, T, 2H, d), (B, S, 2Hkv, d), (B, S, Hkv, 2d), λ → (B, T, H, 2d), all in the input dtype.</summary>
    internal static Tensor DifferentialFormula(Tensor q, Tensor k, Tensor v, Tensor lambda)
    {
        long b = q.shape[0], t = q.shape[1], h = q.shape[2] / 2, d = q.shape[3], s = k.shape[1], hkv = v.shape[2];
        long nRep = h / hkv;
        var qt = q.transpose(1, 2);                                                            // (B, 2H, T, d)
        var kx = k.transpose(1, 2).reshape(b, hkv, 1, 2, s, d).expand(b, hkv, nRep, 2, s, d).reshape(b, 2 * h, s, d); // (B, 2H, S, d)
        var vx = v.transpose(1, 2).reshape(b, hkv, 1, s, 2 * d).expand(b, hkv, nRep, s, 2 * d).reshape(b, h, s, 2 * d); // (B, H, S, 2d)
        var logits = qt.matmul(kx.transpose(-1, -2)).div(Scalars.Of(Math.Sqrt(d)));                         // (B, 2H, T, S)
        var future = ones(t, s, dtype: ScalarType.Bool).triu(1 + s - t);                      // query t sits at S − T + t
        var probs = logits.masked_fill(future, Scalars.Of(double.NegativeInfinity)).softmax(-1).view(b, h, 2, t, s);
        var diff = probs.select(2, 0).sub(probs.select(2, 1).mul(lambda));                     // (B, H, T, S)
        return diff.matmul(vx).transpose(1, 2);                                                // (B, T, H, 2d)
    }

    /// <summary>(B, T, H, d), (B, S, Hkv, d), (B, S, Hkv, dv) → (B, T, H, dv).</summary>
    internal static Tensor StandardFormula(Tensor q, Tensor k, Tensor v)
    {
        long b = q.shape[0], t = q.shape[1], h = q.shape[2], d = q.shape[3], s = k.shape[1], hkv = k.shape[2], dv = v.shape[3];
        long nRep = h / hkv;
        var qt = q.transpose(1, 2);                                                            // (B, H, T, d)
        var kx = k.transpose(1, 2).reshape(b, hkv, 1, s, d).expand(b, hkv, nRep, s, d).reshape(b, h, s, d);
        var vx = v.transpose(1, 2).reshape(b, hkv, 1, s, dv).expand(b, hkv, nRep, s, dv).reshape(b, h, s, dv);
        var logits = qt.matmul(kx.transpose(-1, -2)).div(Scalars.Of(Math.Sqrt(d)));                         // (B, H, T, S)
        var future = ones(t, s, dtype: ScalarType.Bool).triu(1 + s - t);
        return logits.masked_fill(future, Scalars.Of(double.NegativeInfinity)).softmax(-1).matmul(vx).transpose(1, 2);
    }

    public static TheoryData<int, int, int, int, int, int, int> DifferentialCases() => new()
    {
        // B, T, S, H, Hkv, d, width
        { 1, 9, 9, 1, 1, 16, 16 },       // one work item: a single worker, one backward unit without part copies
        { 2, 100, 100, 2, 2, 16, 16 },   // 100 = 2·48 + 4: a short last block
        { 1, 130, 130, 4, 2, 32, 16 },   // GQA, n_rep 2
        { 2, 37, 90, 2, 1, 16, 16 },     // a cached prefix of 53 keys, n_rep 2
        { 1, 96, 96, 2, 2, 64, 16 },     // d = 64, the paper's width
        { 2, 100, 100, 2, 2, 16, 8 },    // the AVX2 code
        { 1, 61, 75, 4, 2, 8, 8 },       // AVX2, d = 8, cached prefix, GQA
    };

    [Theory]
    [MemberData(nameof(DifferentialCases))]
    public void DifferentialCoreMatchesTheFormula(int batch, int t, int s, int h, int hkv, int d, int width)
    {
        if (!Runs(width)) return;
        BlockedAttention.ForcedWidth = width;
        try
        {
            using var scope = NewDisposeScope();
            manual_seed(7);
            var q = randn(batch, t, 2 * h, d).mul(Scalars.Of(1.5)).requires_grad_(true);
            var k = randn(batch, s, 2 * hkv, d).mul(Scalars.Of(1.5)).requires_grad_(true);
            var v = randn(batch, s, hkv, 2 * d).requires_grad_(true);
            var lambda = tensor(0.37f).requires_grad_(true);
            var dOut = randn(batch, t, h, 2 * d);
            Assert.Equal(width, BlockedAttention.WidthFor(d, 2 * d));

            var y = BlockedAttention.Differential(q, k, v, lambda);                           // (B, T, H, 2d)
            y.mul(dOut).sum().backward();

            var q64 = q.detach().to_type(ScalarType.Float64).requires_grad_(true);
            var k64 = k.detach().to_type(ScalarType.Float64).requires_grad_(true);
            var v64 = v.detach().to_type(ScalarType.Float64).requires_grad_(true);
            var l64 = lambda.detach().to_type(ScalarType.Float64).requires_grad_(true);
            var expected = DifferentialFormula(q64, k64, v64, l64);
            expected.mul(dOut.to_type(ScalarType.Float64)).sum().backward();

            log.WriteLine($"B {batch}, T {t}, S {s}, H {h}, Hkv {hkv}, d {d}, width {width}");
            TensorAssert.Close(log, "forward out", y, expected);
            TensorAssert.Close(log, "grad q", q.grad!, q64.grad!);
            TensorAssert.Close(log, "grad k", k.grad!, k64.grad!);
            TensorAssert.Close(log, "grad v", v.grad!, v64.grad!);
            TensorAssert.Close(log, "grad lambda", lambda.grad!.reshape(1), l64.grad!.reshape(1));
        }
        finally
        {
            BlockedAttention.ForcedWidth = null;
        }
    }

    public static TheoryData<int, int, int, int, int, int, int> StandardCases() => new()
    {
        // B, T, S, H, Hkv, d, width
        { 1, 9, 9, 1, 1, 16, 16 },
        { 2, 100, 100, 4, 4, 16, 16 },
        { 1, 130, 130, 4, 2, 32, 16 },
        { 2, 37, 90, 4, 1, 64, 16 },
        { 2, 100, 100, 4, 2, 8, 8 },
    };

    [Theory]
    [MemberData(nameof(StandardCases))]
    public void StandardCoreMatchesTheFormula(int batch, int t, int s, int h, int hkv, int d, int width)
    {
        if (!Runs(width)) return;
        BlockedAttention.ForcedWidth = width;
        try
        {
            using var scope = NewDisposeScope();
            manual_seed(8);
            var q = randn(batch, t, h, d).mul(Scalars.Of(1.5)).requires_grad_(true);
            var k = randn(batch, s, hkv, d).mul(Scalars.Of(1.5)).requires_grad_(true);
            var v = randn(batch, s, hkv, d).requires_grad_(true);
            var dOut = randn(batch, t, h, d);

            var y = BlockedAttention.Standard(q, k, v);
            y.mul(dOut).sum().backward();

            var q64 = q.detach().to_type(ScalarType.Float64).requires_grad_(true);
            var k64 = k.detach().to_type(ScalarType.Float64).requires_grad_(true);
            var v64 = v.detach().to_type(ScalarType.Float64).requires_grad_(true);
            var expected = StandardFormula(q64, k64, v64);
            expected.mul(dOut.to_type(ScalarType.Float64)).sum().backward();

            log.WriteLine($"B {batch}, T {t}, S {s}, H {h}, Hkv {hkv}, d {d}, width {width}");
            TensorAssert.Close(log, "forward out", y, expected);
            TensorAssert.Close(log, "grad q", q.grad!, q64.grad!);
            TensorAssert.Close(log, "grad k", k.grad!, k64.grad!);
            TensorAssert.Close(log, "grad v", v.grad!, v64.grad!);
        }
        finally
        {
            BlockedAttention.ForcedWidth = null;
        }
    }

    [Fact]
    public void WithoutGradientsNoGraphIsBuilt()
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        var q = randn(1, 20, 4, 16);
        var k = randn(1, 20, 4, 16);
        var v = randn(1, 20, 2, 32);
        var lambda = tensor(0.5f).requires_grad_(true);
        Tensor y;
        using (no_grad()) y = BlockedAttention.Differential(q, k, v, lambda);
        Assert.False(y.requires_grad);
        TensorAssert.Close(log, "no-grad out", y, DifferentialFormula(q, k, v, lambda.detach()));
    }

    [Theory]
    [InlineData(12L, 24L)]  // d not a multiple of 8
    [InlineData(16L, 20L)]  // dv not a multiple of 8
    public void UnsupportedWidthsAreRefusedByName(long d, long dv)
    {
        Assert.False(BlockedAttention.Supports(DeviceType.CPU, ScalarType.Float32, d, dv));
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => BlockedAttention.Standard(randn(1, 4, 2, d), randn(1, 4, 2, d), randn(1, 4, 2, dv)));
        Assert.Contains($"d = {d}", e.Message);
    }

    [Fact]
    public void OtherDtypesAreNotSupported()
    {
        Assert.False(BlockedAttention.Supports(DeviceType.CPU, ScalarType.Float64, 16, 32));
        Assert.False(BlockedAttention.Supports(DeviceType.CUDA, ScalarType.Float32, 16, 32));
    }

    /// <summary>A machine without AVX-512 cannot run the 16-wide cases (the 8-wide ones still cover the kernel there).</summary>
    private bool Runs(int width)
    {
        bool ok = width == 8 || (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx512F.IsSupported);
        if (!ok) log.WriteLine("no AVX-512 on this machine: the 16-wide case is not run");
        return ok;
    }
}
