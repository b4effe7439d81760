using System.Text;
using DiffTransformer.Data;
using DiffTransformer.Inference;
using DiffTransformer.IO;
using DiffTransformer.Kernels;
using DiffTransformer.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Inference;

/// <summary>Tiny saved models (byte tokenizer, context 64) in a temporary directory, for the generation tests.</summary>
public sealed class TinyCheckpoints : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("difft-gen-").FullName;

    public static ModelConfig Config(Architecture arch = Architecture.Diff, int? kv = null) => new()
    {
        Arch = arch, VocabSize = 257, EmbedDim = 32, NumLayers = 2, NumHeads = 2, NumKvHeads = kv, MaxSeqLen = 64, TieEmbeddings = true,
    };

    /// <summary>Saves a freshly initialised model (weights scaled up so that its choices are not near-ties) and returns its directory.</summary>
    public string Save(string name, ModelConfig config, string? tokenizer = "byte", int seed = 7)
    {
        string dir = Path.Combine(Root, name);
        if (Directory.Exists(dir)) return dir;
        lock (this)
        {
            if (Directory.Exists(dir)) return dir;
            manual_seed(seed);
            using var model = new LanguageModel(config);
            using (no_grad()) foreach (var p in model.parameters()) if (p.dim() == 2) p.mul_(Scalars.Of(4));
            string tmp = dir + ".tmp";
            ModelStore.Save(model, tmp, tokenizer);
            Directory.Move(tmp, dir);
            return dir;
        }
    }

    public string Diff => Save("diff", Config());

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>The byte tokenizer with end-of-text moved to another id, so that a test can make a random model "emit" it.</summary>
internal sealed class EotAt(int id) : ITokenizer
{
    private readonly ITokenizer bytes = Tokenizers.Create("byte");
    public string Name => "byte";
    public int VocabSize => bytes.VocabSize;
    public int EndOfText => id;
    public int[] Encode(string text) => bytes.Encode(text);
    public string Decode(ReadOnlySpan<int> tokens) => bytes.Decode(tokens);
}

public sealed class GeneratorTests(TinyCheckpoints checkpoints, ITestOutputHelper log) : IClassFixture<TinyCheckpoints>
{
    private static GenerationOptions Greedy(int n, bool eot = false) => new() { MaxNewTokens = n, Sampling = SamplingOptions.Greedy, StopAtEndOfText = eot };

    [Theory]
    [InlineData(Architecture.Diff, null, AttentionKernel.Fused)]
    [InlineData(Architecture.Diff, 1, AttentionKernel.Explicit)]
    [InlineData(Architecture.Transformer, null, AttentionKernel.Fused)]
    public void CachedGenerationEqualsRecomputingThePrefix(Architecture arch, int? kv, AttentionKernel kernel)
    {
        using var gen = TextGenerator.Load(checkpoints.Save($"{arch}-{kv}", TinyCheckpoints.Config(arch, kv)), kernel: kernel);
        var r = gen.Generate("The cat", Greedy(20));
        // greedy decoding by a full forward over the whole sequence for every token
        var ids = Encoding.UTF8.GetBytes("The cat").Select(b => (long)b).ToList();
        var expected = new List<int>();
        using (no_grad())
            for (int i = 0; i < 20; i++)
            {
                using var scope = NewDisposeScope();
                var logits = gen.Model.Forward(tensor(ids.ToArray()).view(1, -1));
                int next = (int)logits[0, -1].argmax().item<long>();
                expected.Add(next);
                ids.Add(next);
            }
        log.WriteLine($"{arch} {kernel}: {string.Join(" ", r.Tokens)}");
        Assert.Equal(expected, r.Tokens);
        Assert.Equal(FinishReason.MaxTokens, r.FinishReason);
        Assert.Equal(7, r.PromptTokens);
        Assert.Equal(19, r.DecodeSteps);
    }

    [Fact]
    public void ARunDirectoryLoadsItsFinalModelAndAnEmptyOneSaysThereIsNoModel()
    {
        string run = Path.Combine(checkpoints.Root, "run-dir");
        string final = Path.Combine(run, "final");
        if (!Directory.Exists(final))
        {
            Directory.CreateDirectory(run);
            foreach (var f in Directory.GetFiles(checkpoints.Diff)) { Directory.CreateDirectory(final); File.Copy(f, Path.Combine(final, Path.GetFileName(f))); }
        }
        using (var g = TextGenerator.Load(run)) Assert.Equal(TinyCheckpoints.Config(), g.Model.Config);
        string empty = Directory.CreateDirectory(Path.Combine(checkpoints.Root, "empty-dir")).FullName;
        var e = Assert.Throws<FileNotFoundException>(() => TextGenerator.Load(empty));
        Assert.Equal($"no model at {empty}: it holds no model.safetensors", e.Message);
        string unfinished = Directory.CreateDirectory(Path.Combine(checkpoints.Root, "unfinished-run")).FullName;
        File.WriteAllText(Path.Combine(unfinished, "run.json"), "{}");
        Assert.Contains("its model will be in final/", Assert.Throws<FileNotFoundException>(() => TextGenerator.Load(unfinished)).Message);
    }

    [Fact]
    public void AFixedSeedReproducesTheText()
    {
        using var gen = TextGenerator.Load(checkpoints.Diff);
        var o = new GenerationOptions { MaxNewTokens = 30, StopAtEndOfText = false, Sampling = new() { Temperature = 1.0, TopK = 40, Seed = 123 } };
        var a = gen.Generate("Once", o);
        var b = gen.Generate("Once", o);
        var c = gen.Generate("Once", o with { Sampling = o.Sampling with { Seed = 124 } });
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.Equal(a.Text, b.Text);
        Assert.NotEqual(a.Tokens, c.Tokens);
        Assert.Equal(123, a.Seed);
    }

    [Fact]
    public void StreamedPiecesAddUpToTheText()
    {
        using var gen = TextGenerator.Load(checkpoints.Diff);
        var pieces = new List<string>();
        var r = gen.Generate("x", new GenerationOptions { MaxNewTokens = 40, StopAtEndOfText = false, Sampling = new() { Seed = 3 } }, pieces.Add);
        Assert.Equal(r.Text, string.Concat(pieces));
        Assert.All(pieces, p => Assert.NotEqual("", p));
    }

    [Fact]
    public void StopStringsEndGenerationEvenAcrossTokens()
    {
        using var gen = TextGenerator.Load(checkpoints.Diff);
        var free = gen.Generate("abc", Greedy(30));
        string text = free.Text;
        string stop = text.Substring(10, 3);                         // three byte tokens (or more) in the middle
        int at = text.IndexOf(stop, StringComparison.Ordinal);
        var stopped = gen.Generate("abc", Greedy(30) with { StopStrings = ["never appears ☃", stop] });
        log.WriteLine($"free: {Escape(text)}; stop {Escape(stop)} → {Escape(stopped.Text)}");
        Assert.Equal(FinishReason.StopString, stopped.FinishReason);
        Assert.Equal(stop, stopped.StopString);
        Assert.Equal(text[..at], stopped.Text);
    }

    [Fact]
    public void EndOfTextEndsGenerationAndIsNotInTheText()
    {
        string dir = checkpoints.Diff;
        using var model = ModelStore.Load(dir);
        var free = new TextGenerator(model, Tokenizers.Create("byte")).Generate("Hi", Greedy(12));
        int eot = free.Tokens[5];                                     // pretend the 6th token is end-of-text
        int first = free.Tokens.ToList().IndexOf(eot);
        var r = new TextGenerator(model, new EotAt(eot)).Generate("Hi", Greedy(12, eot: true));
        Assert.Equal(FinishReason.EndOfText, r.FinishReason);
        Assert.Equal(free.Tokens.Take(first), r.Tokens);
        Assert.Equal(Tokenizers.Create("byte").Decode(free.Tokens.Take(first).ToArray()), r.Text);
    }

    [Fact]
    public void APromptLongerThanTheContextIsRefusedWithBothLengthsOrTruncated()
    {
        using var gen = TextGenerator.Load(checkpoints.Diff);
        string prompt = new('a', 100);
        var e = Assert.Throws<PromptTooLongException>(() => gen.Generate(prompt, Greedy(5)));
        Assert.Contains("100 tokens", e.Message);
        Assert.Contains("64 tokens", e.Message);
        Assert.Equal((100, 64), (e.PromptTokens, e.ContextLength));

        var t = gen.Generate(prompt, Greedy(10) with { TruncatePromptFromLeft = true });
        Assert.Equal(64 + 1 - 10, t.PromptTokens);                   // room left for the 10 new tokens
        Assert.Equal(100 - 55, t.TruncatedTokens);
        Assert.Equal(10, t.Tokens.Count);
    }

    [Fact]
    public void GenerationStopsWhenTheContextIsFull()
    {
        using var gen = TextGenerator.Load(checkpoints.Diff);
        var r = gen.Generate(new string('b', 60), Greedy(50));
        Assert.Equal(FinishReason.ContextFull, r.FinishReason);
        Assert.Equal(5, r.Tokens.Count);                              // positions 60..63 fed, the 5th token predicted from position 63
    }

    [Fact]
    public void AnEmptyPromptStartsFromEndOfText()
    {
        using var gen = TextGenerator.Load(checkpoints.Diff);
        var r = gen.Generate("", Greedy(8));
        Assert.Equal(1, r.PromptTokens);
        Assert.Equal(8, r.Tokens.Count);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var first = gen.Model.Forward(tensor(new long[] { ByteTokenizer.EndOfTextId }).view(1, 1))[0, 0].argmax().item<long>();
        Assert.Equal(first, r.Tokens[0]);
    }

    [Fact]
    public void BatchedPromptsOfDifferentLengthsMatchTheirSingleRuns()
    {
        using var gen = TextGenerator.Load(checkpoints.Diff);
        string[] prompts = ["a", "The quick brown fox", "", "xyz"];
        var o = Greedy(12) with { StopStrings = ["zz"] };
        var batch = gen.GenerateBatch(prompts, o);
        for (int i = 0; i < prompts.Length; i++)
        {
            var single = gen.Generate(prompts[i], o);
            log.WriteLine($"{Escape(prompts[i])}: {Escape(single.Text)} ({single.FinishReason})");
            Assert.Equal(single.Tokens, batch[i].Tokens);
            Assert.Equal(single.Text, batch[i].Text);
            Assert.Equal(single.FinishReason, batch[i].FinishReason);
        }
        var sampled = new GenerationOptions { MaxNewTokens = 10, StopAtEndOfText = false, Sampling = new() { Seed = 5, TopK = 3 } };
        var sb = gen.GenerateBatch(prompts, sampled);
        Assert.Equal(gen.Generate(prompts[1], sampled).Tokens, sb[1].Tokens);   // each row has its own sampler, seeded alike
    }

    [Fact]
    public void ACheckpointOfTheWrongArchitectureIsRefusedClearly()
    {
        string src = checkpoints.Diff;
        string dir = Path.Combine(checkpoints.Root, "mislabelled");
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(src)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)), overwrite: true);
        var cfg = ModelConfig.Load(Path.Combine(dir, "config.json")) with { Arch = Architecture.Transformer };
        cfg.Save(Path.Combine(dir, "config.json"));
        var e = Assert.ThrowsAny<Exception>(() => TextGenerator.Load(dir));
        log.WriteLine(e.Message);
        Assert.Contains("lambda_q1", e.Message);                      // the DIFF-only key the baseline does not have
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void AWrongOrMissingTokenizerIsRefusedClearly()
    {
        var small = checkpoints.Save("no-tokenizer", TinyCheckpoints.Config(), tokenizer: null);
        var missing = Assert.Throws<ArgumentException>(() => TextGenerator.Load(small));
        Assert.Contains("tokenizer.json", missing.Message);
        using (var ok = TextGenerator.Load(small, tokenizer: "byte")) Assert.Equal("byte", ok.Tokenizer.Name);
        var wrong = Assert.Throws<ArgumentException>(() => TextGenerator.Load(small, tokenizer: "gpt2"));
        Assert.Contains("50,257", wrong.Message);
        Assert.Contains("257", wrong.Message);
        var contradicts = Assert.Throws<ArgumentException>(() => TextGenerator.Load(checkpoints.Diff, tokenizer: "gpt2"));
        Assert.Contains("'byte'", contradicts.Message);
        Assert.Contains("'gpt2'", contradicts.Message);
    }

    [Fact]
    public void GeneratingLeavesNoTensorsBehind()
    {
        using var gen = TextGenerator.Load(checkpoints.Diff);
        var o = new GenerationOptions { MaxNewTokens = 20, StopAtEndOfText = false, Sampling = new() { Seed = 1, TopP = 0.9 } };
        gen.Generate("warm", o);
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++) gen.Generate("again", o);
        gen.GenerateBatch(["a", "bc"], o);
        foreach (var _ in gen.Stream("stopped early", o).Take(3)) { }          // an abandoned stream disposes its cache
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    private static string Escape(string s) => s.Replace("\n", "\\n");
}
