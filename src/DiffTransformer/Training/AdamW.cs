using DiffTransformer.IO;
using DiffTransformer.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffTransformer.Training;

/// <summary>
/// AdamW with decoupled weight decay (Loshchilov &amp; Hutter), the update of PyTorch's <c>torch.optim.AdamW</c>:
/// <code>
///   p ← p·(1 − lr·wd)                     matrices only
///   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²
///   p ← p − lr/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + ε)
/// </code>
/// Weight decay applies to matrices (dim ≥ 2: projections, FFN, embedding, head) and never to norm gains or
/// the λ vectors. Our own implementation so that its state is a plain safetensors file that resumes exactly.
/// </summary>
public sealed class AdamW : IDisposable
{
    private sealed record Slot(string Name, Parameter Param, bool Decay, Tensor ExpAvg, Tensor ExpAvgSq);

    private readonly List<Slot> slots = [];

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public double WeightDecay { get; }

    /// <summary>Updates taken so far (t in the bias corrections).</summary>
    public long Step { get; private set; }

    public AdamW(IEnumerable<(string Name, Parameter Param)> parameters, double beta1 = 0.9, double beta2 = 0.95, double eps = 1e-8, double weightDecay = 0.1)
    {
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
        foreach (var (name, p) in parameters)
        {
            if (!p.requires_grad) continue;
            var m = zeros_like(p).DetachFromDisposeScope();
            var v = zeros_like(p).DetachFromDisposeScope();
            slots.Add(new Slot(name, p, Decays(p), m, v));
        }
    }

    /// <summary>Whether a parameter gets weight decay: matrices yes; norms, λ vectors and biases no.</summary>
    public static bool Decays(Tensor p) => p.dim() >= 2;

    /// <summary>Names of the parameters that get weight decay.</summary>
    public IEnumerable<string> DecayedParameters => slots.Where(s => s.Decay).Select(s => s.Name);

    /// <summary>One update with learning rate <paramref name="lr"/> from the gradients now in the parameters.</summary>
    public void Update(double lr)
    {
        Step++;
        double bc1 = 1 - Math.Pow(Beta1, Step);
        double bc2 = 1 - Math.Pow(Beta2, Step);
        double stepSize = lr / bc1;
        double sqrtBc2 = Math.Sqrt(bc2);
        using var _ = no_grad();
        // Scalars held for the whole step (Kernels/Scalars.cs says why implicit ones are not safe)
        using Scalar decay = (1 - lr * WeightDecay).ToScalar(), beta1 = Beta1.ToScalar(), oneMinusBeta1 = (1 - Beta1).ToScalar();
        using Scalar beta2 = Beta2.ToScalar(), oneMinusBeta2 = (1 - Beta2).ToScalar(), bc2Root = sqrtBc2.ToScalar();
        using Scalar eps = Eps.ToScalar(), negStep = (-stepSize).ToScalar();
        foreach (var s in slots)
        {
            using var scope = NewDisposeScope();
            var g = s.Param.grad;
            if (g is null) continue;
            if (s.Decay && WeightDecay != 0) s.Param.mul_(decay);
            s.ExpAvg.mul_(beta1).add_(g, alpha: oneMinusBeta1);
            s.ExpAvgSq.mul_(beta2).addcmul_(g, g, value: oneMinusBeta2);
            var denom = s.ExpAvgSq.sqrt().div_(bc2Root).add_(eps, Scalars.Of(1));
            s.Param.addcdiv_(s.ExpAvg, denom, value: negStep);
        }
    }

    /// <summary>Clears the gradients (sets them to zero in place, keeping their memory).</summary>
    public void ZeroGrad()
    {
        using var _ = no_grad();
        foreach (var s in slots)
        {
            using var g = s.Param.grad;
            g?.zero_();
        }
    }

    /// <summary>Scales gradients so that their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public double ClipGradNorm(double maxNorm)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var grads = slots.Select(s => s.Param.grad).Where(g => g is not null).Select(g => g!).ToList();
        if (grads.Count == 0) return 0;
        // pow(2) with a held Scalar is the op square() runs (TorchSharp's square() makes its 2 implicitly)
        var total = stack(grads.Select(g => g.pow(Scalars.Of(2)).sum()).ToArray()).sum().sqrt();
        double norm = total.item<float>();
        if (maxNorm > 0 && norm > maxNorm)
        {
            double coef = maxNorm / (norm + 1e-6);
            using var c = coef.ToScalar();
            foreach (var g in grads) g.mul_(c);
        }
        return norm;
    }

    /// <summary>Writes m and v of every parameter (keys exp_avg.NAME, exp_avg_sq.NAME) and the step; atomic.</summary>
    public void Save(string path)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var s in slots)
        {
            tensors.Add(new("exp_avg." + s.Name, s.ExpAvg));
            tensors.Add(new("exp_avg_sq." + s.Name, s.ExpAvgSq));
        }
        var meta = new Dictionary<string, string>
        {
            ["format"] = "difft-adamw",
            ["step"] = Step.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        SafeTensorsFile.Save(path, tensors, meta);
    }

    /// <summary>Restores m, v and the step; every parameter must be present with its shape.</summary>
    public void Load(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        if (!file.Metadata.TryGetValue("format", out var fmt) || fmt != "difft-adamw")
            throw new SafeTensorsException($"{path}: not an optimizer state file (format '{fmt ?? "none"}')");
        foreach (var s in slots)
        {
            foreach (var (key, target) in new[] { ("exp_avg." + s.Name, s.ExpAvg), ("exp_avg_sq." + s.Name, s.ExpAvgSq) })
            {
                if (!file.Tensors.TryGetValue(key, out var info))
                    throw new SafeTensorsException($"{path}: missing key '{key}'");
                if (!info.Shape.SequenceEqual(target.shape))
                    throw new SafeTensorsException($"{path}: key '{key}' has shape {info.ShapeText}, the model expects [{string.Join(", ", target.shape)}]");
            }
        }
        using var _ = no_grad();
        foreach (var s in slots)
        {
            using (var m = file.Read("exp_avg." + s.Name)) s.ExpAvg.copy_(m);
            using (var v = file.Read("exp_avg_sq." + s.Name)) s.ExpAvgSq.copy_(v);
        }
        Step = long.Parse(file.Metadata["step"], System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        foreach (var s in slots)
        {
            s.ExpAvg.Dispose();
            s.ExpAvgSq.Dispose();
        }
        slots.Clear();
    }
}
