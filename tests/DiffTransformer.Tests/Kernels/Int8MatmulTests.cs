using DiffTransformer.Kernels;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Kernels;

/// <summary>
/// The int8 weight-only product equals the float product with the dequantised weights (computed in float64) up to the
/// order of float32 additions, on every instruction-set path, for shapes that hit every tile and remainder.
/// </summary>
public sealed class Int8MatmulTests(ITestOutputHelper log)
{
    public static TheoryData<Int8Isa, int, int, int> Shapes()
    {
        var data = new TheoryData<Int8Isa, int, int, int>();
        foreach (var isa in new[] { Int8Isa.Avx512, Int8Isa.Avx2, Int8Isa.Scalar })
            foreach (var (rows, n, o) in new[] { (1, 16, 4), (1, 33, 5), (1, 512, 130), (3, 7, 3), (4, 64, 64), (7, 100, 67), (9, 256, 200) })
                data.Add(isa, rows, n, o);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TheProductIsTheFloatProductWithDequantisedWeights(Int8Isa isa, int rows, int inDim, int outDim)
    {
        if (isa == Int8Isa.Avx512 && !System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return;   // the machine cannot run that path
        if (isa == Int8Isa.Avx2 && !System.Runtime.Intrinsics.X86.Avx2.IsSupported) return;
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(11);
        var x = randn([2, rows, inDim], generator: gen);
        var w = randint(-127, 128, [outDim, inDim], dtype: ScalarType.Int8, generator: gen);
        var s = rand([outDim], generator: gen).add(Scalars.Of(0.01), Scalars.Of(1)).mul(Scalars.Of(0.02));
        var want = x.to(ScalarType.Float64).matmul(w.to(ScalarType.Float64).mul(s.to(ScalarType.Float64).unsqueeze(1)).t());   // (2, rows, out)
        Int8Matmul.ForcedIsa = isa;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                var got = Int8Matmul.Forward(x, w, s, threads);
                Assert.Equal(new long[] { 2, rows, outDim }, got.shape);
                // float32 accumulation of n products of size ≤ |x|·127·s: allow n·ε relative to Σ|x·w·s|
                var bound = x.abs().to(ScalarType.Float64).matmul(w.to(ScalarType.Float64).abs().mul(s.to(ScalarType.Float64).unsqueeze(1)).t()).mul(Scalars.Of(inDim * 1.2e-7)).add(Scalars.Of(1e-6), Scalars.Of(1));
                var err = got.to(ScalarType.Float64).sub(want).abs();
                Assert.True(err.le(bound).all().item<bool>(), $"{isa} {rows}×{inDim}→{outDim}, {threads} threads: worst error {err.max().item<double>():E2}, bound {bound.min().item<double>():E2}");
            }
        }
        finally
        {
            Int8Matmul.ForcedIsa = null;
        }
    }

    public static TheoryData<int, int, int> MaddShapes() => new()
    {
        { 1, 16, 4 }, { 1, 33, 5 }, { 1, 512, 130 }, { 3, 7, 3 }, { 4, 64, 64 }, { 7, 100, 67 }, { 9, 256, 200 }, { 2, 9000, 6 },   // 9,000 inputs: two int32 chunks
    };

    [Theory]
    [MemberData(nameof(MaddShapes))]
    public void TheIntegerPathIsExactInIntegersWithRowsRoundedTo16Bits(int rows, int inDim, int outDim)
    {
        if (!System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) return;
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(13);
        var x = randn([rows, inDim], generator: gen);
        x[0, 0] = tensor(0f);                                                    // a zero, and (below) a row of zeros
        if (rows > 2) x[2].zero_();
        var w = randint(-127, 128, [outDim, inDim], dtype: ScalarType.Int8, generator: gen);
        var s = rand([outDim], generator: gen).add(Scalars.Of(0.01), Scalars.Of(1)).mul(Scalars.Of(0.02));
        // the rounding the kernel does, in the same float32 steps: step = max|x|/32767, q = round(x · (1/step))
        var max = x.abs().amax([1]);
        var step = where(max.gt(Scalars.Of(0f)), max.div(Scalars.Of(32767f)), ones_like(max));
        var inv = ones_like(step).div(step);
        var q = x.mul(inv.unsqueeze(1)).round().clamp(Scalars.Of(-32767f), Scalars.Of(32767f));
        var exact = q.to(ScalarType.Float64).matmul(w.to(ScalarType.Float64).t());                          // integers, exact in float64
        var want = exact.mul(step.to(ScalarType.Float64).unsqueeze(1)).mul(s.to(ScalarType.Float64).unsqueeze(0));
        Int8Matmul.ForcedIsa = Int8Isa.Avx512Madd;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                var got = Int8Matmul.Forward(x, w, s, threads).to(ScalarType.Float64);
                var err = got.sub(want).abs();
                var bound = want.abs().mul(Scalars.Of(2e-7)).add(Scalars.Of(1e-30), Scalars.Of(1));        // the two float multiplications and the cast
                Assert.True(err.le(bound).all().item<bool>(), $"{rows}×{inDim}→{outDim}, {threads} threads: worst error {err.max().item<double>():E2}");
                // against the float product with the dequantised weights: the 16-bit rounding of x, at most half a step per input
                var dq = x.to(ScalarType.Float64).matmul(w.to(ScalarType.Float64).mul(s.to(ScalarType.Float64).unsqueeze(1)).t());
                var roundBound = step.to(ScalarType.Float64).unsqueeze(1).mul(Scalars.Of(0.5)).mul(w.to(ScalarType.Float64).abs().mul(s.to(ScalarType.Float64).unsqueeze(1)).sum([1]).unsqueeze(0)).mul(Scalars.Of(1.0001));
                Assert.True(got.sub(dq).abs().le(roundBound.add(bound, Scalars.Of(1))).all().item<bool>(), "beyond half a 16-bit step per input");
            }
        }
        finally
        {
            Int8Matmul.ForcedIsa = null;
        }
    }

    [Fact]
    public void AllPathsAgreeBitForBitWhereTheyAddInTheSameOrder()
    {
        // One input: every path sums a single product per output, so all three must give exactly s·x·w.
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 0.5f, -2f, 3f }).reshape(3, 1);
        var w = tensor(new sbyte[] { -127, 5, 64, 1 }).reshape(4, 1);
        var s = tensor(new float[] { 0.25f, 1f, 0.125f, 3f });
        foreach (var isa in new[] { Int8Isa.Scalar, Int8Isa.Avx2, Int8Isa.Avx512 }.Where(i => i != Int8Isa.Avx512 || System.Runtime.Intrinsics.X86.Avx512F.IsSupported))
        {
            Int8Matmul.ForcedIsa = isa;
            try
            {
                var y = Int8Matmul.Forward(x, w, s, 1);
                var want = new float[] { 0.5f * -127 * 0.25f, 0.5f * 5, 0.5f * 64 * 0.125f, 0.5f * 3f, -2f * -127 * 0.25f, -2f * 5, -2f * 64 * 0.125f, -2f * 3f, 3f * -127 * 0.25f, 3f * 5, 3f * 64 * 0.125f, 3f * 3f };
                Assert.Equal(want, y.data<float>().ToArray());
            }
            finally
            {
                Int8Matmul.ForcedIsa = null;
            }
        }
    }

    [Fact]
    public void ANonFiniteActivationReachesTheOutputOnEveryPath()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { float.NaN, 0.3f, 100.7f, 1f, 2f, 3f }).reshape(2, 3);
        var w = tensor(new sbyte[] { 1, 2, 3, 4, 5, 6 }).reshape(2, 3);
        var s = ones([2]);
        foreach (var isa in new[] { Int8Isa.Scalar, Int8Isa.Avx2, Int8Isa.Avx512, Int8Isa.Avx512Madd }
                     .Where(i => i is Int8Isa.Scalar or Int8Isa.Avx2 || System.Runtime.Intrinsics.X86.Avx512BW.IsSupported))
        {
            Int8Matmul.ForcedIsa = isa;
            try
            {
                var y = Int8Matmul.Forward(x, w, s, 1);
                Assert.True(y[0].isnan().all().item<bool>(), $"{isa}: a NaN input gave {y[0, 0].item<float>()}");
                Assert.False(y[1].isnan().any().item<bool>(), $"{isa}: the finite row came out NaN");
            }
            finally
            {
                Int8Matmul.ForcedIsa = null;
            }
        }
    }

    [Fact]
    public void BadOperandsAreRefusedByWhatIsWrong()
    {
        using var scope = NewDisposeScope();
        var w = zeros([4, 8], dtype: ScalarType.Int8);
        var s = ones([4]);
        Assert.Contains("input width 7", Assert.Throws<ArgumentException>(() => Int8Matmul.Forward(zeros([2, 7]), w, s, 1)).Message);
        Assert.Contains("2-D int8", Assert.Throws<ArgumentException>(() => Int8Matmul.Forward(zeros([2, 8]), zeros([4, 8]), s, 1)).Message);
        Assert.Contains("scale must be float32 [4]", Assert.Throws<ArgumentException>(() => Int8Matmul.Forward(zeros([2, 8]), w, ones([3]), 1)).Message);
        Assert.Contains("inference", Assert.Throws<InvalidOperationException>(() => Int8Matmul.Forward(zeros([2, 8]).requires_grad_(), w, s, 1)).Message);
        log.WriteLine($"best path here: {Int8Matmul.BestIsa}");
    }
}
