using DiffTransformer.IO;
using DiffTransformer.Kernels;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests;

/// <summary>Comparison in the llm.c manner: per-tensor worst difference, tolerance scaled to the tensor's magnitude.</summary>
internal static class TensorAssert
{
    /// <summary>
    /// Passes when every |a − e| ≤ atol·max|e| + rtol·|e|. The absolute term scales with the tensor's own
    /// largest magnitude, so a gradient of size 1e-3 and one of size 10 are held to the same relative standard.
    /// Returns the worst absolute difference; always prints one line.
    /// </summary>
    public static double Close(ITestOutputHelper? log, string name, Tensor actual, Tensor expected, double rtol = 1e-4, double atol = 1e-5)
    {
        using var scope = NewDisposeScope();
        Assert.Equal(expected.shape, actual.shape);
        var a = actual.detach().to_type(ScalarType.Float64);
        var e = expected.detach().to_type(ScalarType.Float64);
        double scale = Math.Max(e.abs().max().item<double>(), 1e-12);
        var diff = a.sub(e).abs();
        var allowed = e.abs().mul(Scalars.Of(rtol)).add(Scalars.Of(atol * scale), Scalars.Of(1));
        double worst = diff.max().item<double>();
        double worstRatio = diff.div(allowed).max().item<double>();
        log?.WriteLine($"{name,-40} shape [{string.Join(",", expected.shape),-12}] max|ref| {scale:E2}  worst |diff| {worst:E2}  ({worstRatio:F3} of tolerance)");
        Assert.True(worstRatio <= 1.0, $"{name}: worst |diff| {worst:E3} exceeds tolerance (ratio {worstRatio:F2}, max|ref| {scale:E3})");
        return worst;
    }
}

internal static class Fixtures
{
    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name + ".safetensors");

    public static SafeTensorsFile Open(string name)
    {
        var f = SafeTensorsFile.Open(PathOf(name));
        Assert.Equal("difft-fixture", f.Metadata["format"]);
        Assert.Equal("1", f.Metadata["version"]);
        return f;
    }

    /// <summary>Copies every "param.&lt;key&gt;" tensor of the fixture into the module's state dict; all keys must match.</summary>
    public static void LoadParams(nn.Module module, SafeTensorsFile f)
    {
        var sd = module.state_dict();
        var fileKeys = f.Tensors.Keys.Where(k => k.StartsWith("param.", StringComparison.Ordinal)).Select(k => k["param.".Length..]).Order().ToList();
        Assert.Equal(fileKeys, sd.Keys.Order().ToList());
        using var _ = no_grad();
        foreach (var (k, t) in sd)
        {
            using var src = f.Read("param." + k);
            t.copy_(src);
        }
    }
}
