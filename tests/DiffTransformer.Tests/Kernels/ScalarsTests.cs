using DiffTransformer.Kernels;
using DiffTransformer.Model;
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

    [Fact]
    public void TheReplacementsOfTorchSharpCallsThatMakeTheirOwnScalarsGiveTheirBits()
    {
        // the λ init replaces torch.normal(0, 0.1, [n]), which makes its mean, std and alpha as Scalars nobody holds
        manual_seed(11);
#pragma warning disable RS0030 // the banned call, once, to compare against
        using var expected = normal(0, 0.1, [64]);
        manual_seed(11);
        using var actual = DifferentialAttention.Normal(64);
        using var x = tensor(Enumerable.Range(0, 64).Select(i => (float)Math.Cos(i * 0.91) * 2).ToArray());
        using var y = tensor(Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i * 0.53)).ToArray());
        using var plainSum = x.add(y);
        using var plainSquare = x.square();
        using var plainRange = arange(3, 17, dtype: ScalarType.Int64);
#pragma warning restore RS0030
        Assert.Equal(expected.data<float>().ToArray(), actual.data<float>().ToArray());
        using var sum = x.add(y, Scalars.Of(1));
        Assert.Equal(plainSum.data<float>().ToArray(), sum.data<float>().ToArray());
        using var square = x.pow(Scalars.Of(2));
        Assert.Equal(plainSquare.data<float>().ToArray(), square.data<float>().ToArray());
        using var range = arange(Scalars.Of(3), Scalars.Of(17), Scalars.Of(1), dtype: ScalarType.Int64);
        Assert.Equal(plainRange.data<long>().ToArray(), range.data<long>().ToArray());
    }
}
