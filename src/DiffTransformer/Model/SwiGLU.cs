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
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;
#pragma warning restore IDE1006

    public SwiGLU(int embedDim, int ffnDim) : base(nameof(SwiGLU))
    {
        gate_proj = nn.Linear(embedDim, ffnDim, hasBias: false);
        up_proj = nn.Linear(embedDim, ffnDim, hasBias: false);
        down_proj = nn.Linear(ffnDim, embedDim, hasBias: false);
        RegisterComponents();
    }

    internal Linear GateProj => gate_proj;
    internal Linear UpProj => up_proj;
    internal Linear DownProj => down_proj;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var g = F.silu(gate_proj.forward(x));                           // (B, T, F)
        var u = up_proj.forward(x);                                     // (B, T, F)
        return down_proj.forward(g.mul(u)).MoveToOuterDisposeScope();   // (B, T, E)
    }
}
