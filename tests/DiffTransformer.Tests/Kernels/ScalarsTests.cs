using DiffTransformer.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Kernels;

/// <summary>
/// The cached Scalars (Kernels/Scalars.cs) stand in for the implicit conversions the build bans: each is the Scalar
/// the conversion would have made — same type, same value, the same bits out of an op — and lives on.
/// </summary>
public sealed class ScalarsTests
{
    [Fact]
    public void ACachedScalarHasTheTypeAndValueTheConversionWouldGive()
    {
        // (c10 keeps every floating-point scalar as a double and every integer one as an int64)
        using Scalar d = 0.5.ToScalar(), f = 0.5f.ToScalar(), l = 3L.ToScalar(), i = 3.ToScalar();
        Assert.Equal(d.Type, Scalars.Of(0.5).Type);
        Assert.Equal(f.Type, Scalars.Of(0.5f).Type);
        Assert.Equal(l.Type, Scalars.Of(3L).Type);
        Assert.Equal(i.Type, Scalars.Of(3).Type);
        Assert.Equal(ScalarType.Float64, Scalars.Of(0.5f).Type);
        Assert.Equal(ScalarType.Int64, Scalars.Of(3).Type);
        Assert.Equal(0.1, Scalars.Of(0.1).ToDouble());
        Assert.Equal(-7L, Scalars.Of(-7L).ToInt64());
        Assert.True(float.IsNegativeInfinity(Scalars.Of(float.NegativeInfinity).ToSingle()));
    }

    [Fact]
    public void TheSameValueGivesTheSameScalarAndSignedZerosStayApart()
    {
        Assert.Same(Scalars.Of(0.25), Scalars.Of(0.25));
        Assert.NotSame(Scalars.Of(0.0), Scalars.Of(-0.0));
        using var one = ones(3);
        using var negZero = one.mul(Scalars.Of(-0.0));
        Assert.All(negZero.data<float>().ToArray(), x => Assert.True(float.IsNegative(x), "1 × −0.0 is −0.0"));
        using var posZero = one.mul(Scalars.Of(0.0));
        Assert.All(posZero.data<float>().ToArray(), x => Assert.False(float.IsNegative(x), "1 × 0.0 is +0.0"));
    }

    [Fact]
    public void AnOpWithACachedScalarGivesTheBitsOfOneWithAFreshScalar()
    {
        using var x = tensor(Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i * 0.37) * 3).ToArray());
        double factor = 1.0 / Math.Sqrt(48);
        using var fresh = factor.ToScalar();
        using var expected = x.mul(fresh);
        using var actual = x.mul(Scalars.Of(factor));
        Assert.Equal(expected.data<float>().ToArray(), actual.data<float>().ToArray());
    }
}
