using DiffTransformer.IO;
using DiffTransformer.Kernels;
using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// Writes an int8 copy of a saved model (<c>difft quantize</c>): every linear layer (<see cref="Projection"/>: the
/// attention and SwiGLU projections, DIFF V2's λ projection, the LM head) becomes int8 with one float32 scale per
/// output channel (<see cref="Projection.Quantize"/>); a tied head gets an int8 copy of the embedding (the embedding
/// itself, the norms and DIFF's λ vectors stay float32). The model directory is an ordinary one whose config.json says <c>"weights": "int8"</c>; its
/// model.safetensors holds, for each projection <c>P</c>, <c>P.weight</c> (I8 [out, in]) and <c>P.weight_scale</c> (F32
/// [out]), and loads with the usual strict checks (<see cref="ModelStore.Load"/>). The tokenizer file is copied.
/// </summary>
public static class WeightQuantization
{
    /// <summary>
    /// Quantises the float32 model at <paramref name="modelPath"/> into <paramref name="outDir"/> (must not exist or be
    /// empty; appears whole or not at all).
    /// </summary>
    public static QuantizeResult ToInt8(string modelPath, string outDir)
    {
        AtomicDirectory.RequireNewOrEmpty(outDir, "quantize");
        string resolved = ModelStore.ResolveModelPath(modelPath);
        var config = ModelStore.LoadConfig(resolved);
        if (config.LinearWeights != WeightFormat.Float32)
            throw new ConfigException($"{resolved}: its weights are already {config.Weights.ToString()!.ToLowerInvariant()}; quantize a float32 model");
        string tmp = AtomicDirectory.CreateTempSibling(outDir, "quantize");
        try
        {
            long floatBytes = 0, int8Bytes = 0;
            double worst = 0;
            int projections = 0;
            using (var source = ModelStore.Load(resolved))
            using (var target = new LanguageModel(config with { Weights = WeightFormat.Int8 }))
            {
                var targets = target.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
                using (no_grad())
                {
                    var floats = target.named_parameters().ToDictionary(t => t.name, t => t.parameter, StringComparer.Ordinal);
                    foreach (var (name, p) in source.named_parameters())                 // everything that stays float
                        if (floats.TryGetValue(name, out var t)) t.copy_(p);
                    var sources = source.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
                    foreach (var (name, module) in targets)
                    {
                        if (module is not Projection ip) continue;
                        // a tied head has no projection of its own in the float model: its int8 copy is the embedding's
                        bool copy = !(sources.TryGetValue(name, out var sm) && sm is Projection);
                        var w = sm is Projection fp ? fp.Weight! : source.EmbeddingWeight;
                        var (q, s) = Projection.Quantize(w);
                        using (q)
                        using (s)
                        {
                            var (iw, iscale) = ip.Int8!.Value;
                            iw.copy_(q);
                            iscale.copy_(s);
                            using var err = q.to(ScalarType.Float32).mul(s.unsqueeze(1)).sub(w).abs().amax([1]).div(s.clamp_min(Scalars.Of(1e-30)));
                            worst = Math.Max(worst, err.max().item<float>());
                        }
                        if (!copy) floatBytes += 4L * ip.InFeatures * ip.OutFeatures;   // a tied head's copy adds bytes and saves none
                        int8Bytes += (long)ip.InFeatures * ip.OutFeatures + 4L * ip.OutFeatures;
                        projections++;
                    }
                }
                ModelStore.Save(target, tmp, tokenizer: null, new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["quantized_from"] = Path.GetFullPath(resolved),
                });
            }
            string tokenizer = ModelStore.TokenizerPath(resolved);                   // ours ({"name": …}) or a Hugging Face file: copied as it is
            if (File.Exists(tokenizer)) File.Copy(tokenizer, Path.Combine(tmp, ModelStore.TokenizerFile));
            AtomicDirectory.MoveIntoPlace(tmp, outDir);
            return new QuantizeResult(config with { Weights = WeightFormat.Int8 }, projections, floatBytes, int8Bytes, worst);
        }
        catch
        {
            AtomicDirectory.TryDelete(tmp);
            throw;
        }
    }
}
