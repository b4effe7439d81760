using DiffTransformer.Data;
using DiffTransformer.Tasks.Recall;
using DiffTransformer.Tests.Data;

namespace DiffTransformer.Tests.Tasks;

/// <summary>The recall task written as a token dataset: it opens like a prepared corpus and decodes back to the generated documents.</summary>
public sealed class RecallDatasetTests : IDisposable
{
    private readonly TempDir dir = new();
    private static readonly RecallTaskOptions Options = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void OpensAsATokenDatasetAndDecodesToTheGeneratedDocuments()
    {
        var written = RecallDataset.Write(dir["ds"], Options, trainDocs: 300, valDocs: 40, seed: 7, shardTokens: 5000);
        using var ds = TokenDataset.Open(dir["ds"]);
        var tokenizer = ds.CreateTokenizer();
        Assert.Equal("byte", ds.Meta.Tokenizer);
        Assert.Equal(257, ds.Meta.VocabSize);
        Assert.Equal(256, ds.Meta.EotId);
        Assert.Equal(7, ds.Meta.Seed);
        Assert.Equal(written.Train, ds.Meta.Train with { Shards = written.Train.Shards });
        Assert.True(ds.Train.Shards.Count > 1, "several shards expected with shard_tokens 5000");
        Assert.Contains("key→value recall", ds.Meta.Source);
        Assert.Contains(Options.Describe(), ds.Meta.Source);

        var generator = new RecallTaskGenerator(Options, 7);
        var train = Corpus.Documents(ds.Train, tokenizer);
        var val = Corpus.Documents(ds.Val, tokenizer);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => generator.Generate(i, RecallStream.Train).Text), train);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => generator.Generate(i, RecallStream.Heldout).Text), val);
        Assert.Empty(train.Intersect(val));
        Assert.Equal(train.Sum(d => d.Length + 1), ds.Train.Length);
        Assert.Equal(train.Sum(d => (long)d.Length), ds.Meta.Train.Bytes);

        var task = RecallDataset.ReadTask(dir["ds"]);
        Assert.NotNull(task);
        Assert.Equal(Options, task.Options);
        Assert.Equal((7L, 300L, 40L, RecallTaskFile.CurrentGeneratorVersion), (task.Seed, task.TrainDocuments, task.ValDocuments, task.GeneratorVersion));
    }

    [Fact]
    public void EvalExamplesAreTheHeldoutDocumentsWithTheirSpans()
    {
        var options = Options with { Pairs = 10, Queries = 3, FillerWords = 3 };
        RecallDataset.Write(dir["ds"], options, trainDocs: 20, valDocs: 30, seed: 3);
        var generator = new RecallTaskGenerator(options, 3);
        var examples = RecallDataset.ReadEvalExamples(dir["ds"], maxExamples: 25);
        Assert.Equal(25, examples.Count);
        for (int i = 0; i < examples.Count; i++)
        {
            var expected = generator.Generate(i, RecallStream.Heldout);
            Assert.Equal(expected.Text, examples[i].Text);
            Assert.Equal(expected.Pairs, examples[i].Pairs);
            Assert.Equal(expected.Queries, examples[i].Queries);
        }
        Assert.Equal(30, RecallDataset.ReadEvalExamples(dir["ds"]).Count);
    }

    [Fact]
    public void PreparedCorpusHasNoTaskAndIsNoRecallDocument()
    {
        string text = dir.WriteText("in/a.txt", "plain prose, not a recall document");
        DatasetPreparer.Prepare(new PrepareOptions { Inputs = [text], OutputDirectory = dir["corpus"], ValFraction = 1 });
        Assert.Null(RecallDataset.ReadTask(dir["corpus"]));
        var e = Assert.Throws<InvalidDataException>(() => RecallDataset.ReadEvalExamples(dir["corpus"]));
        Assert.Contains("val document 0 is not a recall document", e.Message);
    }

    [Fact]
    public void NonEmptyDirectoryIsRefusedUnlessItHoldsADatasetAndForceIsGiven()
    {
        dir.WriteText("ds/other.txt", "x");
        var e = Assert.Throws<IOException>(() => RecallDataset.Write(dir["ds"], Options, 5, 5, 1));
        Assert.Contains("dataset directory is not empty", e.Message);
        Assert.Throws<IOException>(() => RecallDataset.Write(dir["ds"], Options, 5, 5, 1, force: true));   // not a dataset: never replaced
        Assert.True(File.Exists(dir["ds/other.txt"]));

        File.Delete(dir["ds/other.txt"]);
        RecallDataset.Write(dir["ds"], Options, 3, 3, 1);
        dir.WriteText("ds/other.txt", "x");
        e = Assert.Throws<IOException>(() => RecallDataset.Write(dir["ds"], Options, 5, 5, 1));
        Assert.Contains("pass force", e.Message);
        RecallDataset.Write(dir["ds"], Options, 5, 5, 1, force: true);
        Assert.True(File.Exists(dir["ds/other.txt"]));                 // kept: the writer did not write it
        using var ds = TokenDataset.Open(dir["ds"]);
        Assert.Equal(5, ds.Train.Documents);
        Assert.Single(Directory.GetFileSystemEntries(dir.Root));   // no temp or old directories left behind
    }

    [Fact]
    public void APreparedDatasetReplacingARecallDatasetTakesItsTaskFileWithIt()
    {
        RecallDataset.Write(dir["ds"], Options, 3, 3, 1);
        Assert.NotNull(RecallDataset.ReadTask(dir["ds"]));
        dir.WriteText("corpus/a.txt", "a plain document");
        DatasetPreparer.Prepare(new PrepareOptions { Inputs = [dir["corpus"]], OutputDirectory = dir["ds"], Force = true });
        Assert.Null(RecallDataset.ReadTask(dir["ds"]));               // recall_task.json was the old dataset's
        using var prepared = TokenDataset.Open(dir["ds"]);
        Assert.Equal(DatasetDirectory.OwnedFiles(prepared.Meta).Order(StringComparer.Ordinal),
                     Directory.GetFileSystemEntries(dir["ds"]).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(0, 5, "train documents must be at least 1, got 0")]
    [InlineData(5, 0, "val documents must be at least 1, got 0")]
    public void BadCountsAreNamed(long train, long val, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => RecallDataset.Write(dir["ds"], Options, train, val, 1));
        Assert.Contains(expected, e.Message);
        Assert.False(Directory.Exists(dir["ds"]));
    }

    [Fact]
    public void InvalidOptionsWriteNothing()
    {
        var e = Assert.Throws<ArgumentException>(() => RecallDataset.Write(dir["ds"], Options with { Pairs = 40 }, 5, 5, 1));
        Assert.Contains("documents do not fit context_length 256", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Root));
    }
}
