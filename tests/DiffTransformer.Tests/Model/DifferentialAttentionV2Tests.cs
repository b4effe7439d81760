using System.Text.Json;
using DiffTransformer.Kernels;
using DiffTransformer.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Model;

/// <summary>DIFF V2's layer against our PyTorch reference (reference/difft_ref.py, DiffAttentionV2), forward and every gradient, on every core.</summary>
public sealed class DifferentialAttentionV2Tests(ITestOutputHelper log)
{
    private static DifferentialAttentionV2 FromFixture(DiffTransformer.IO.SafeTensorsFile f, AttentionKernel kernel)
    {
        using var cfg = JsonDocument.Parse(f.Metadata["config"]);
        var c = cfg.RootElement;
        int? kv = c.GetProperty("num_kv_heads").ValueKind == JsonValueKind.Null ? null : c.GetProperty("num_kv_heads").GetInt32();
        var attn = new DifferentialAttentionV2(c.GetProperty("embed_dim").GetInt32(), depth: 0, c.GetProperty("num_heads").GetInt32(), kv,
            ropeTheta: c.GetProperty("rope_theta").GetDouble()) { Kernel = kernel };
        Fixtures.LoadParams(attn, f);
        return attn;
    }

    [Theory]
    [InlineData("attn_v2_mha", AttentionKernel.Explicit)]
    [InlineData("attn_v2_mha", AttentionKernel.Fused)]
    [InlineData("attn_v2_mha", AttentionKernel.Blocked)]
    [InlineData("attn_v2_gqa", AttentionKernel.Explicit)]
    [InlineData("attn_v2_gqa", AttentionKernel.Fused)]
    [InlineData("attn_v2_gqa", AttentionKernel.Blocked)]
    public void TheLayerMatchesTheReferenceForwardAndBackward(string fixture, AttentionKernel kernel)
    {
        using var f = Fixtures.Open(fixture);
        using var attn = FromFixture(f, kernel);
        Assert.Equal(["k_proj.weight", "lambda_proj.weight", "out_proj.weight", "q_proj.weight", "v_proj.weight"],
            attn.state_dict().Keys.Order(StringComparer.Ordinal));
        using var scope = NewDisposeScope();
        var x = f.Read("input.x").requires_grad_(true);
        var dy = f.Read("input.dy");
        log.WriteLine($"{fixture}, {kernel} core");
        var y = attn.Forward(x);
        TensorAssert.Close(log, "forward y", y, f.Read("output.y"));
        TensorAssert.Close(log, "forward sigmoid(lambda)", attn.LambdaOf(x), f.Read("output.lambda"));
        y.mul(dy).sum().backward();
        TensorAssert.Close(log, "grad x", x.grad!, f.Read("grad.x"));
        foreach (var (name, p) in attn.named_parameters())
            TensorAssert.Close(log, "grad " + name, p.grad!, f.Read("grad." + name));
    }

    [Theory]
    [InlineData("attn_v2_mha")]
    [InlineData("attn_v2_gqa")]
    public void TheCapturedMapsAreTheReferencesAndEachPairsDifferenceWithItsPerTokenLambda(string fixture)
    {
        using var f = Fixtures.Open(fixture);
        using var attn = FromFixture(f, AttentionKernel.Blocked);           // a capture takes the explicit core whatever the kernel
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var capture = new AttentionCapture();
        var y = attn.Forward(f.Read("input.x"), 0, capture);
        TensorAssert.Close(log, "forward y (captured)", y, f.Read("output.y"));
        var maps = capture.Maps.Single();
        Assert.Equal(Architecture.Diff2, maps.Arch);
        Assert.Null(maps.Lambda);                                           // per token, not one per layer
        var a = f.Read("output.attn");                                      // (B, 2h, T, T)
        TensorAssert.Close(log, "A (captured)", maps.Probs!, a);
        long b = a.shape[0], h = a.shape[1] / 2, t = a.shape[2];
        var pairs = a.view(b, h, 2, t, t);
        var lam = f.Read("output.lambda").transpose(1, 2).unsqueeze(-1);   // (B, h, T, 1)
        TensorAssert.Close(log, "A_2i − σ(λ)·A_2i+1", maps.Differential!, pairs.select(2, 0).sub(pairs.select(2, 1).mul(lam)));
        TensorAssert.Close(log, "row sums 1 − σ(λ)", maps.Differential!.sum(-1, keepdim: true), lam.neg().add(Scalars.Of(1), Scalars.Of(1)));
    }

    [Theory]
    [InlineData("attn_v2_mha", AttentionKernel.Explicit)]
    [InlineData("attn_v2_gqa", AttentionKernel.Fused)]
    public void CachedDecodingMatchesTheFullForward(string fixture, AttentionKernel kernel)
    {
        using var f = Fixtures.Open(fixture);
        using var attn = FromFixture(f, kernel);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = f.Read("input.x");                                         // (B, 9, E)
        var full = attn.Forward(x);
        using var cache = new KvCache(1);
        var pieces = new List<Tensor> { attn.Forward(x.narrow(1, 0, 5), 0, null, cache[0]) };   // prefill 5, then one at a time
        for (int i = 5; i < 9; i++) pieces.Add(attn.Forward(x.narrow(1, i, 1), i, null, cache[0]));
        double worst = cat(pieces, 1).sub(full).abs().max().item<float>();
        log.WriteLine($"{fixture} {kernel}: worst |cached − full| {worst:E2}");
        Assert.True(worst <= 1e-5, $"cached outputs differ from the full forward by {worst:E3}");
    }

    [Theory]
    [InlineData(64, 3, null, "embed_dim 64 is not divisible by 2·num_heads = 6")]
    [InlineData(64, 2, 4, "num_kv_heads 4 must divide num_heads 2")]
    [InlineData(96, 3, 2, "num_kv_heads 2 must divide num_heads 3")]
    public void BadShapesAreRefusedNamingTheValues(int embed, int heads, int? kv, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => new DifferentialAttentionV2(embed, 0, heads, kv));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void TheLayerHasTwoAndAHalfESquaredPlusHEParameters()
    {
        using var attn = new DifferentialAttentionV2(64, 0, 2);
        Assert.Equal(5 * 64 * 64 / 2 + 2 * 64, attn.parameters().Sum(p => p.numel()));
    }
}
