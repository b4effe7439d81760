using DiffTransformer.Kernels;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffTransformer.Model;

/// <summary>
/// A linear map without bias, <c>y = x Wᵀ</c> (W [out, in]), in one of two storages:
/// <list type="bullet">
/// <item>float32 (training and the default): the parameter <c>weight</c>, created and initialised exactly as
/// <c>nn.Linear(in, out, hasBias: false)</c> does (Kaiming-uniform with a = √5, the same draws from the generator), and
/// the same forward (<c>F.linear</c>), so a model built from these is bit for bit the one built from nn.Linear;</item>
/// <item>int8 (<see cref="WeightFormat.Int8"/>, inference only): the buffers <c>weight</c> (int8 [out, in]) and
/// <c>weight_scale</c> (float32 [out]) of a symmetric per-output-channel quantisation, W ≈ weight_scale[o]·weight[o, i]
/// (<see cref="Quantize"/>), multiplied by <see cref="Int8Matmul"/> for fewer than <see cref="GemmRows"/> rows
/// (decoding, where reading W bounds the time) and dequantised for libtorch's GEMM from there on (prefill, eval).</item>
/// </list>
/// </summary>
public sealed class Projection : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the state-dict keys
    private readonly TorchSharp.Modules.Parameter? weight;
#pragma warning restore IDE1006
    private readonly Tensor? int8Weight;
    private readonly Tensor? scale;

    public Projection(int inFeatures, int outFeatures, WeightFormat format = WeightFormat.Float32) : base(nameof(Projection))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Format = format;
        if (format == WeightFormat.Int8)
        {
            int8Weight = zeros(outFeatures, inFeatures, dtype: ScalarType.Int8);
            scale = zeros(outFeatures, dtype: ScalarType.Float32);
            register_buffer("weight", int8Weight);
            register_buffer("weight_scale", scale);
        }
        else
        {
            weight = new TorchSharp.Modules.Parameter(empty(outFeatures, inFeatures));
            nn.init.kaiming_uniform_(weight, Math.Sqrt(5));                   // nn.Linear's own initialisation, draw for draw
            register_parameter("weight", weight);
        }
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public WeightFormat Format { get; }

    /// <summary>The float32 weight [out, in]; null for an int8 projection.</summary>
    public TorchSharp.Modules.Parameter? Weight => weight;

    /// <summary>The int8 weight [out, in] and its per-channel scale [out]; null for a float32 projection.</summary>
    public (Tensor Weight, Tensor Scale)? Int8 => int8Weight is null ? null : (int8Weight, scale!);

    /// <summary>
    /// Rows (tokens) from which an int8 product dequantises the weight and hands it to libtorch's GEMM instead: with
    /// many rows the product is bound by arithmetic, not by reading W, and the BLAS kernels are faster than ours
    /// (eval lm at 2,048 rows a call: 4,700 tokens/s through the int8 kernels against 13,500 for float32). Batched
    /// decoding (one row per sequence, up to a few dozen) stays on the int8 kernels, where rebuilding a float copy of
    /// W every step would cost more than the float model itself.
    /// </summary>
    public const int GemmRows = 64;

    public override Tensor forward(Tensor x)
    {
        if (weight is not null) return F.linear(x, weight);
        if (x.numel() / InFeatures < GemmRows) return Int8Matmul.Forward(x, int8Weight!, scale!, Math.Max(1, get_num_threads()));
        using var w = int8Weight!.to(ScalarType.Float32).mul_(scale!.unsqueeze(1));          // (out, in), dequantised for this call
        return F.linear(x, w);
    }

    /// <summary>
    /// Symmetric per-output-channel int8 of a float weight [out, in]: scale[o] = max_i |W[o, i]| / 127 and
    /// q[o, i] = round(W[o, i] / scale[o]) (half to even) in [−127, 127]; a row of zeros gets scale 0 and zeros.
    /// The caller owns both tensors.
    /// </summary>
    public static (Tensor Weight, Tensor Scale) Quantize(Tensor w)
    {
        using var scope = NewDisposeScope();
        var wf = w.detach().to(ScalarType.Float32);
        var s = wf.abs().amax([1]).div(Scalars.Of(127.0));                                    // (out)
        var safe = where(s.eq(Scalars.Of(0.0)), ones_like(s), s);
        var q = wf.div(safe.unsqueeze(1)).round().clamp(Scalars.Of(-127.0), Scalars.Of(127.0)).to(ScalarType.Int8);   // (out, in)
        return (q.MoveToOuterDisposeScope(), s.contiguous().MoveToOuterDisposeScope());
    }
}
