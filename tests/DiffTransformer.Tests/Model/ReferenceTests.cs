using System.Text.Json;
using DiffTransformer.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Model;

/// <summary>
/// The model against our PyTorch reference (reference/make_fixtures.py), tensor by tensor, forward and
/// backward, for both attention cores.
/// </summary>
public sealed class ReferenceTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData("attn_mha_depth0", AttentionKernel.Explicit)]
    [InlineData("attn_mha_depth0", AttentionKernel.Fused)]
    [InlineData("attn_gqa_depth3", AttentionKernel.Explicit)]
    [InlineData("attn_gqa_depth3", AttentionKernel.Fused)]
    [InlineData("attn_mha_depth0", AttentionKernel.Blocked)]
    [InlineData("attn_gqa_depth3", AttentionKernel.Blocked)]
    public void DiffAttentionLayerMatchesReference(string fixture, AttentionKernel kernel)
    {
        using var f = Fixtures.Open(fixture);
        using var cfg = JsonDocument.Parse(f.Metadata["config"]);
        var c = cfg.RootElement;
        int? kv = c.GetProperty("num_kv_heads").ValueKind == JsonValueKind.Null ? null : c.GetProperty("num_kv_heads").GetInt32();
        using var attn = new DifferentialAttention(c.GetProperty("embed_dim").GetInt32(), c.GetProperty("depth").GetInt32(),
            c.GetProperty("num_heads").GetInt32(), kv, ropeTheta: c.GetProperty("rope_theta").GetDouble()) { Kernel = kernel };
        Fixtures.LoadParams(attn, f);
        Assert.Equal(double.Parse(f.Metadata["lambda_init"], System.Globalization.CultureInfo.InvariantCulture), attn.LambdaInit, 12);

        using var scope = NewDisposeScope();
        var x = f.Read("input.x").requires_grad_(true);
        var dy = f.Read("input.dy");
        log.WriteLine($"{fixture}, {kernel} core");
        using var capture = kernel == AttentionKernel.Explicit ? new AttentionCapture() : null;
        var y = attn.Forward(x, 0, capture);
        TensorAssert.Close(log, "forward y", y, f.Read("output.y"));
        TensorAssert.Close(log, "forward lambda", attn.LambdaFull().reshape(1), f.Read("output.lambda_full"));
        if (capture is not null)
        {
            var probs = capture.Maps.Single().Probs!;                       // (B, 2H, T, T)
            var h = probs.shape[1] / 2;
            var pairs = probs.view(probs.shape[0], h, 2, probs.shape[2], probs.shape[3]);
            TensorAssert.Close(log, "forward A1 (captured)", pairs.select(2, 0), f.Read("output.attn1"));
            TensorAssert.Close(log, "forward A2 (captured)", pairs.select(2, 1), f.Read("output.attn2"));
        }
        y.mul(dy).sum().backward();
        TensorAssert.Close(log, "grad x", x.grad!, f.Read("grad.x"));
        foreach (var (name, p) in attn.named_parameters())
            TensorAssert.Close(log, "grad " + name, p.grad!, f.Read("grad." + name));
    }

    [Theory]
    [InlineData("model_diff", AttentionKernel.Explicit)]
    [InlineData("model_diff", AttentionKernel.Fused)]
    [InlineData("model_transformer", AttentionKernel.Explicit)]
    [InlineData("model_transformer", AttentionKernel.Fused)]
    [InlineData("model_diff", AttentionKernel.Blocked)]
    [InlineData("model_transformer", AttentionKernel.Blocked)]
    [InlineData("model_diff2", AttentionKernel.Explicit)]
    [InlineData("model_diff2", AttentionKernel.Fused)]
    [InlineData("model_diff2", AttentionKernel.Blocked)]
    public void WholeModelMatchesReference(string fixture, AttentionKernel kernel)
    {
        using var f = Fixtures.Open(fixture);
        var config = ModelConfig.FromJson(f.Metadata["config"], fixture);
        using var model = new LanguageModel(config) { Kernel = kernel };
        Fixtures.LoadParams(model, f);

        using var scope = NewDisposeScope();
        var tokens = f.Read("input.tokens");
        var targets = f.Read("input.targets");
        log.WriteLine($"{fixture}, {kernel} core");
        var logits = model.Forward(tokens);
        var loss = LanguageModel.CrossEntropy(logits, targets);
        TensorAssert.Close(log, "forward logits", logits, f.Read("output.logits"));
        TensorAssert.Close(log, "forward loss", loss.reshape(1), f.Read("output.loss"));
        if (config.Arch == Architecture.Diff)
            for (int i = 0; i < config.NumLayers; i++)
                TensorAssert.Close(log, $"forward lambda layer {i}",
                    ((DifferentialAttention)model.Layers[i].Attention).LambdaFull().reshape(1), f.Read($"output.lambda.{i}"));
        loss.backward();
        foreach (var (name, p) in model.named_parameters())
            TensorAssert.Close(log, "grad " + name, p.grad!, f.Read("grad." + name));
    }
}
