using DiffTransformer.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// Root-mean-square normalisation over the last dimension with a learnable gain (initialised to ones):
/// <c>y = x / sqrt(mean(x²) + eps) · weight</c>, the statistics computed in float32 whatever the input type.
/// State dict: <c>weight [dim]</c>.
/// </summary>
public sealed class RMSNorm : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the state-dict keys
    private readonly Parameter weight;
#pragma warning restore IDE1006

    public long Dim { get; }
    public double Eps { get; }

    public RMSNorm(long dim, double eps = 1e-5) : base(nameof(RMSNorm))
    {
        Dim = dim;
        Eps = eps;
        weight = new Parameter(ones(dim, dtype: float32));
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // Scalars held to the end of the call: TorchSharp's implicit ones (square() is pow(2); add(double)) are
        // unreachable once their handle is read, and a collection on another thread may free them mid-call (seen as
        // "INTERNAL ASSERT FAILED at Scalar.h" in pow). pow(2) is the op square() runs, so the result is unchanged.
        using var two = 2.ToScalar();
        using var eps = Eps.ToScalar();
        var xf = x.to_type(ScalarType.Float32);                                   // (..., dim)
        var inv = xf.pow(two).mean([-1L], keepdim: true).add(eps, Scalars.Of(1)).rsqrt();        // (..., 1)
        var y = xf.mul(inv).to_type(x.dtype).mul(weight);                        // (..., dim)
        return y.MoveToOuterDisposeScope();
    }
}
