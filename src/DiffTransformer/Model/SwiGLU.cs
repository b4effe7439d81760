using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffTransformer.Model;

/// <summary>
/// The feed-forward network: <c>SwiGLU(X) = (swish(X W_G) ⊙ X W_1) W_2</c>, no biases.
/// State dict: gate_proj.weight = W_G [F,E], up_proj.weight = W_1 [F,E], down_proj.weight = W_2 [E,F].
/// </summary>
public sealed class SwiGLU : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the state-dict keys
    private readonly Projection gate_proj;
    private readonly Projection up_proj;
    private readonly Projection down_proj;
#pragma warning restore IDE1006

    public SwiGLU(int embedDim, int ffnDim, WeightFormat weights = WeightFormat.Float32) : base(nameof(SwiGLU))
    {
        gate_proj = new Projection(embedDim, ffnDim, weights);
        up_proj = new Projection(embedDim, ffnDim, weights);
        down_proj = new Projection(ffnDim, embedDim, weights);
        RegisterComponents();
    }

    internal Projection GateProj => gate_proj;
    internal Projection UpProj => up_proj;
    internal Projection DownProj => down_proj;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var g = F.silu(gate_proj.forward(x));                           // (B, T, F)
        var u = up_proj.forward(x);                                     // (B, T, F)
        return down_proj.forward(g.mul(u)).MoveToOuterDisposeScope();   // (B, T, E)
    }
}
