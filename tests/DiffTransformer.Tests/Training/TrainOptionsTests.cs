using System.Text.Json.Nodes;
using DiffTransformer.Data;
using DiffTransformer.Model;
using DiffTransformer.Tests.Data;
using DiffTransformer.Training;

namespace DiffTransformer.Tests.Training;

public sealed class TrainOptionsTests : IDisposable
{
    private readonly TempDir tmp = new();

    public void Dispose() => tmp.Dispose();

    private static DatasetMeta Meta(string tokenizer, int vocab)
    {
        var split = new SplitMeta { Documents = 0, Tokens = 0, Bytes = 0, Shards = [] };
        return new DatasetMeta
        {
            Tokenizer = tokenizer, VocabSize = vocab, EotId = vocab - 1, TokenWidth = 2, Seed = 1, ShardTokens = 1000, Source = "test",
            CreatedUtc = DateTime.UnixEpoch, Train = split, Val = split,
        };
    }

    [Fact]
    public void RunJsonRoundTripsAndRefusesAnUnknownFieldNamingItAndTheFile()
    {
        var options = new TrainOptions { Out = tmp["run"], Schedule = DecayShape.Linear, Kernel = AttentionKernel.Fused };
        var run = new RunDirectory(tmp["run"]);
        options.Save(run.OptionsFile);
        Assert.Contains("\"schedule\": \"linear\"", File.ReadAllText(run.OptionsFile));
        Assert.Equal(options.ToJson(), Trainer.LoadRunOptions(run.Root).ToJson());          // records holding lists compare them by reference

        var node = JsonNode.Parse(File.ReadAllText(run.OptionsFile))!.AsObject();
        node["lerning_rate"] = 0.1;                                           // a typo must not be ignored
        File.WriteAllText(run.OptionsFile, node.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => Trainer.LoadRunOptions(run.Root));
        Assert.StartsWith(run.OptionsFile + ": ", e.Message);
        Assert.Contains("'lerning_rate'", e.Message);
    }

    [Fact]
    public void TheVocabularyComesFromTheDataUnlessGivenAndMustHoldItsTokens()
    {
        var preset = new TrainOptions { Model = Presets.Get("tiny") };
        Assert.Equal(50257, preset.ResolveVocabulary(Meta("gpt2", 50257)).Model.VocabSize);          // a preset's vocabulary is a default
        Assert.Equal(preset.Model with { VocabSize = 50257 }, preset.ResolveVocabulary(Meta("gpt2", 50257)).Model);

        var given = preset with { Model = preset.Model with { VocabSize = 300 }, VocabFromData = false };
        Assert.Equal(300, given.ResolveVocabulary(Meta("byte", 257)).Model.VocabSize);              // an explicit one stands
        var e = Assert.Throws<ConfigException>(() => given.ResolveVocabulary(Meta("gpt2", 50257)));
        Assert.Equal("the dataset's tokenizer 'gpt2' has 50257 tokens but the model's vocab_size is 300; set vocab_size to at least 50257", e.Message);
    }

    [Fact]
    public void ResumeDifferencesNameOnlyWhatChangesTheTraining()
    {
        var saved = new TrainOptions { Out = tmp["a"], Kernel = AttentionKernel.Blocked };
        Assert.Empty(Trainer.ResumeDifferences(saved, saved with { Kernel = AttentionKernel.Fused, Steps = 900, Out = tmp["b"] }));
        Assert.Equal(["learning_rate 0.1 (saved: 0.003)"], Trainer.ResumeDifferences(saved, saved with { LearningRate = 0.1 }));
        Assert.Single(Trainer.ResumeDifferences(saved, saved with { Model = saved.Model with { VocabSize = 300 } }), d => d.StartsWith("model ", StringComparison.Ordinal));
        Assert.Empty(Trainer.ResumeDifferences(saved, saved with { VocabFromData = false }));   // where vocab_size came from is not the model
    }

    [Fact]
    public void AWarmUpLongerThanTheRunIsWarnedAbout()
    {
        var w = Assert.Single(new TrainOptions { Steps = 20, WarmupSteps = 30 }.Warnings());
        Assert.StartsWith("warmup_steps 30 ≥ steps 20: the run never reaches the peak learning rate 0.003", w);
        Assert.Empty(new TrainOptions { Steps = 600, WarmupSteps = 30 }.Warnings());
    }
}
