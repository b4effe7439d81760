using System.Text.Json.Nodes;
using DiffTransformer.IO;
using DiffTransformer.Kernels;
using DiffTransformer.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Model;

/// <summary>
/// Int8 weights (<see cref="Projection"/>, <see cref="WeightQuantization"/>): the float projection is nn.Linear bit
/// for bit; quantisation rounds each weight to its channel's nearest step; a quantised model of every architecture
/// computes the float model with the dequantised weights; its files load with the usual checks.
/// </summary>
[Collection("serial")] // seeds and draws from the global torch generator
public sealed class WeightQuantizationTests(ITestOutputHelper log) : IDisposable
{
    private readonly string tmp = Directory.CreateTempSubdirectory("difft-int8-").FullName;

    public void Dispose() => Directory.Delete(tmp, recursive: true);

    [Fact]
    public void TheFloatProjectionIsNnLinearBitForBit()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var linear = nn.Linear(20, 12, hasBias: false);
        manual_seed(3);
        using var projection = new Projection(20, 12);
        Assert.True(linear.weight!.equal(projection.Weight!).all().item<bool>(), "the initial weights differ from nn.Linear's");
        var x = randn(3, 5, 20);
        Assert.True(linear.forward(x).equal(projection.forward(x)).all().item<bool>(), "the forward differs from nn.Linear's");
        Assert.Equal(["weight"], projection.state_dict().Keys);
    }

    [Fact]
    public void QuantisationRoundsEachWeightToItsChannelsNearestStep()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var w = randn(6, 40).mul(Scalars.Of(0.1));
        w[2].zero_();                                                           // a channel of zeros
        var (q, s) = Projection.Quantize(w);
        Assert.Equal(ScalarType.Int8, q.dtype);
        Assert.Equal(0f, s[2].item<float>());
        Assert.True(q[2].eq(Scalars.Of(0)).all().item<bool>());
        var err = q.to(ScalarType.Float32).mul(s.unsqueeze(1)).sub(w).abs();
        Assert.True(err.le(s.unsqueeze(1).mul(Scalars.Of(0.5 + 1e-5))).all().item<bool>(), "an error above half a step");
        foreach (int o in new[] { 0, 1, 3, 4, 5 }) Assert.Equal(127, (int)q[o].abs().max().item<sbyte>());   // the largest weight of a channel maps to ±127
    }

    public static TheoryData<Architecture, bool> Archs() => new()
    {
        { Architecture.Diff, false }, { Architecture.Diff, true }, { Architecture.Transformer, false }, { Architecture.Diff2, true },
    };

    [Theory]
    [MemberData(nameof(Archs))]
    public void AQuantisedModelComputesTheFloatModelWithDequantisedWeights(Architecture arch, bool tied)
    {
        var config = new ModelConfig { Arch = arch, VocabSize = 50, EmbedDim = 32, NumLayers = 2, NumHeads = 2, MaxSeqLen = 32, TieEmbeddings = tied };
        string ours = Path.Combine(tmp, "f32"), int8 = Path.Combine(tmp, "int8");
        manual_seed(9);
        using (var m = new LanguageModel(config)) ModelStore.Save(m, ours, tokenizer: "byte");
        var result = WeightQuantization.ToInt8(ours, int8);
        int expected = config.NumLayers * (arch == Architecture.Diff2 ? 8 : 7) + 1;                       // + the head (a tied one as an int8 copy)
        Assert.Equal(expected, result.Projections);
        Assert.InRange(result.WorstErrorInSteps, 0.0, 0.5 + 1e-4);
        Assert.InRange((double)result.Int8Bytes / result.FloatBytes, 0.25, 0.3);
        Assert.Equal("int8", JsonNode.Parse(File.ReadAllText(Path.Combine(int8, "config.json")))!["weights"]!.GetValue<string>());
        Assert.Equal("byte", ModelStore.LoadTokenizerName(int8));
        using (var f = SafeTensorsFile.Open(Path.Combine(int8, "model.safetensors")))
        {
            Assert.Equal("I8", f.Tensors["layers.0.ffn.up_proj.weight"].DType);
            Assert.Equal("F32", f.Tensors["layers.0.ffn.up_proj.weight_scale"].DType);
            Assert.Equal("F32", f.Tensors["embed_tokens.weight"].DType);
        }

        using var scope = NewDisposeScope();
        using var quantised = ModelStore.Load(int8);
        using var original = ModelStore.Load(ours);
        // The reference: the float model with every projection dequantised — untied, since a tied int8 model looks its
        // tokens up in the float embedding but scores them with the int8 copy.
        using var dequantised = new LanguageModel(config with { TieEmbeddings = false });
        var q = quantised.named_modules().ToDictionary(m => m.name, m => m.module);
        var floats = original.state_dict();
        using (no_grad())
        {
            foreach (var (key, t) in dequantised.state_dict())
                if (floats.TryGetValue(key, out var f)) t.copy_(f);
            foreach (var (name, module) in dequantised.named_modules())
                if (module is Projection p && q[name] is Projection { Int8: var (w, s) })
                    p.Weight!.copy_(w.to(ScalarType.Float32).mul(s.unsqueeze(1)));
        }
        var tokens = randint(0, config.VocabSize, [2, 15], dtype: ScalarType.Int64);                         // few rows: the int8 kernels
        using var _ = no_grad();
        var want = dequantised.Forward(tokens);
        var full = original.Forward(tokens);
        // The float-activation path: the float model with the dequantised weights, up to the order of the additions.
        Tensor got;
        Int8Matmul.ForcedIsa = System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? Int8Isa.Avx512 : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? Int8Isa.Avx2 : Int8Isa.Scalar;
        try
        {
            got = quantised.Forward(tokens);
        }
        finally
        {
            Int8Matmul.ForcedIsa = null;
        }
        log.WriteLine($"{arch} tied={tied}: int8 (float activations) vs dequantised float {(got - want).abs().max().item<float>():E2}; vs the float32 model {(got - full).abs().max().item<float>():E2} (logits up to {full.abs().max().item<float>():F2})");
        TensorAssert.Close(log, "int8 logits, float activations", got, want, rtol: 1e-4, atol: 1e-5);
        // The default path (16-bit activations where AVX-512 BW exists): each projection's input is rounded to 2⁻¹⁶ of
        // its row's largest value, so logits move by ~1e-5 here, two orders below the int8 weights' own 2e-3 to 5e-3.
        var fast = quantised.Forward(tokens);
        log.WriteLine($"  default path ({Int8Matmul.BestIsa}): vs dequantised float {(fast - want).abs().max().item<float>():E2}");
        TensorAssert.Close(log, "int8 logits, default path", fast, want, rtol: 1e-4, atol: 1e-4);
        // Many rows (prefill, eval): the weights dequantised for libtorch's GEMM, the float model's numbers.
        var many = randint(0, config.VocabSize, [2, Projection.GemmRows / 2], dtype: ScalarType.Int64);
        TensorAssert.Close(log, "int8 logits, GEMM path", quantised.Forward(many), dequantised.Forward(many), rtol: 1e-5, atol: 1e-6);
    }

    [Fact]
    public void WhatCannotBeQuantisedOrLoadedIsRefusedByName()
    {
        var config = new ModelConfig { VocabSize = 40, EmbedDim = 16, NumLayers = 1, NumHeads = 2, MaxSeqLen = 16 };
        string ours = Path.Combine(tmp, "f32"), int8 = Path.Combine(tmp, "int8");
        using (var m = new LanguageModel(config)) ModelStore.Save(m, ours);
        WeightQuantization.ToInt8(ours, int8);
        Assert.Contains("already int8", Assert.Throws<ConfigException>(() => WeightQuantization.ToInt8(int8, Path.Combine(tmp, "again"))).Message);
        Assert.Contains("not empty", Assert.Throws<IOException>(() => WeightQuantization.ToInt8(ours, int8)).Message);

        // Training an int8 configuration is refused before anything runs.
        var train = new DiffTransformer.Training.TrainOptions { Model = config with { Weights = WeightFormat.Int8 }, Out = Path.Combine(tmp, "run") };
        Assert.Contains("inference only", Assert.Throws<ConfigException>(() => train.Validate()).Message);

        // A config.json that says int8 beside float32 weights: the strict loader names the key and both dtypes.
        string mixed = Path.Combine(tmp, "mixed");
        Directory.CreateDirectory(mixed);
        File.Copy(Path.Combine(ours, "model.safetensors"), Path.Combine(mixed, "model.safetensors"));
        File.WriteAllText(Path.Combine(mixed, "config.json"), (config with { Weights = WeightFormat.Int8 }).ToJson());
        var e = Assert.Throws<SafeTensorsException>(() => ModelStore.Load(mixed));
        log.WriteLine(e.Message);
        Assert.Contains("weight_scale", e.Message);                             // missing keys come first
    }
}
