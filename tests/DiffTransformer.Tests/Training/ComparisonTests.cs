using DiffTransformer.Data;
using DiffTransformer.Model;
using DiffTransformer.Tests.Data;
using DiffTransformer.Training;
using Xunit.Abstractions;

namespace DiffTransformer.Tests.Training;

public sealed class ComparisonTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDir tmp = new();

    public void Dispose() => tmp.Dispose();

    [Fact]
    public void TrainsBothArchitecturesOnTheSameDataAndReusesFinishedRuns()
    {
        for (int d = 0; d < 20; d++) tmp.WriteText($"src/{d}.txt", string.Concat(Enumerable.Repeat($"document {d} says hello to the model. ", 12)));
        DatasetPreparer.Prepare(new PrepareOptions { Inputs = [tmp["src"]], OutputDirectory = tmp["data"], ValFraction = 0.2 });
        var options = new TrainOptions
        {
            Data = tmp["data"], Out = tmp["cmp"], Model = new ModelConfig { EmbedDim = 32, NumLayers = 1, NumHeads = 2, MaxSeqLen = 64 },
            BatchSize = 2, SeqLen = 32, Steps = 3, WarmupSteps = 1, EvalInterval = 3, EvalBatches = 1, CheckpointInterval = 0,
        };
        var r = Comparison.Run(options, force: false, log.WriteLine);
        log.WriteLine(r.Table);
        Assert.Equal(Architecture.Diff, r.Diff.Model.Arch);
        Assert.Equal(Architecture.Transformer, r.Transformer.Model.Arch);
        long d8 = 6 * r.Diff.Model.HeadDim;                          // λ vectors and subln: the only difference
        Assert.Equal(r.Transformer.Parameters + d8, r.Diff.Parameters);
        Assert.True(File.Exists(r.Plot));
        Assert.Contains("| final validation loss |", r.Table);
        Assert.Contains("| training tokens/s |", r.Table);
        Assert.True(File.Exists(tmp["cmp/comparison.md"]));
        var m1 = File.GetLastWriteTimeUtc(tmp["cmp/diff/metrics.jsonl"]);
        var again = Comparison.Run(options, force: false, log.WriteLine);    // completed runs are reused, not retrained
        Assert.Equal(m1, File.GetLastWriteTimeUtc(tmp["cmp/diff/metrics.jsonl"]));
        Assert.Equal(r.Diff.FinalValLoss, again.Diff.FinalValLoss);
        Comparison.Run(options with { Kernel = AttentionKernel.Explicit }, force: false, log.WriteLine);   // another kernel computes the same runs
        Assert.Equal(m1, File.GetLastWriteTimeUtc(tmp["cmp/diff/metrics.jsonl"]));
    }
}
