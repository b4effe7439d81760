using System.Text.Json;
using DiffTransformer.Data;

namespace DiffTransformer.Tests.Data;

public sealed class PrepareTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>A folder of text files (nested, .txt and .md, one file to ignore) and a gzipped JSONL; returns the documents.</summary>
    private (string Folder, string Jsonl, List<string> TextDocs, List<(string Text, int Year)> JsonDocs) MakeCorpus()
    {
        var textDocs = Corpus.Special.Concat(Corpus.Random(25, 1)).ToList();
        for (int i = 0; i < textDocs.Count; i++)
            dir.WriteText($"corpus/{(i % 3 == 0 ? "sub/deeper/" : "")}doc{i:D3}.{(i % 2 == 0 ? "txt" : "md")}", textDocs[i]);
        dir.WriteText("corpus/ignored.csv", "not a document");
        var jsonDocs = Corpus.Random(60, 2).Concat(Corpus.Special).Select((t, i) => (t, 1950 + i)).ToList();
        var lines = jsonDocs.Select(d => Corpus.JsonLine(d.t, d.Item2)).ToList();
        lines.Insert(10, "");   // blank lines are not documents
        string jsonl = dir.WriteJsonl("data/docs.jsonl.gz", lines);
        return (dir["corpus"], jsonl, textDocs, jsonDocs);
    }

    private PrepareOptions Options(params string[] inputs) => new() { Inputs = inputs, OutputDirectory = dir["out/ds"] };

    /// <summary>A failed prepare leaves neither the dataset nor its temp directory behind.</summary>
    private void AssertNothingWritten() =>
        Assert.True(!Directory.Exists(dir["out"]) || !Directory.EnumerateFileSystemEntries(dir["out"]).Any(),
                    "output folder: " + string.Join(", ", Directory.Exists(dir["out"]) ? Directory.EnumerateFileSystemEntries(dir["out"]) : []));

    [Theory]
    [InlineData("byte")]
    [InlineData("gpt2")]
    public void RoundTripRecoversEveryDocument(string tokenizerName)
    {
        var (folder, jsonl, textDocs, jsonDocs) = MakeCorpus();
        var result = DatasetPreparer.Prepare(Options(folder, jsonl) with { Tokenizer = tokenizerName, ValFraction = 0.3 });
        using var ds = TokenDataset.Open(result.OutputDirectory);
        var tok = ds.CreateTokenizer();
        var train = Corpus.Documents(ds.Train, tok);
        var val = Corpus.Documents(ds.Val, tok);
        Assert.NotEmpty(train);
        Assert.NotEmpty(val);
        Corpus.AssertSameMultiset(textDocs.Concat(jsonDocs.Select(d => d.Text)), train.Concat(val));
        Assert.Equal(result.Meta.Train.Bytes + result.Meta.Val.Bytes,
                     textDocs.Concat(jsonDocs.Select(d => d.Text)).Sum(d => (long)System.Text.Encoding.UTF8.GetByteCount(d)));
        Assert.Equal(tokenizerName, ds.Meta.Tokenizer);
        Assert.Equal(tok.VocabSize, ds.Meta.VocabSize);
        Assert.False(File.Exists(Path.Combine(result.OutputDirectory, "ignored.csv")));
    }

    [Fact]
    public void RoundTripAcrossManySmallShards()
    {
        var (folder, jsonl, textDocs, jsonDocs) = MakeCorpus();
        var result = DatasetPreparer.Prepare(Options(folder, jsonl) with { ShardTokens = 1000, ValFraction = 0.5 });
        Assert.True(result.Meta.Train.Shards.Count > 3, $"{result.Meta.Train.Shards.Count} train shards");
        Assert.All(result.Meta.Train.Shards.SkipLast(1), s => Assert.Equal(1000, s.Tokens));
        using var ds = TokenDataset.Open(result.OutputDirectory);
        var tok = ds.CreateTokenizer();
        Corpus.AssertSameMultiset(textDocs.Concat(jsonDocs.Select(d => d.Text)), Corpus.Documents(ds.Train, tok).Concat(Corpus.Documents(ds.Val, tok)));
        // a window across a shard boundary reads the concatenation
        var all = ds.Train.ToArray();
        var window = new long[50];
        ds.Train.CopyTo(975, window);
        Assert.Equal(all.Skip(975).Take(50).Select(t => (long)t), window);
    }

    [Fact]
    public void ValWhereSelectsExactlyTheMatchingDocuments()
    {
        var (_, jsonl, _, jsonDocs) = MakeCorpus();
        var result = DatasetPreparer.Prepare(Options(jsonl) with { ValWhere = "year>=2000", Tokenizer = "gpt2" });
        Assert.Equal("year>=2000", result.Meta.ValWhere);
        Assert.Null(result.Meta.ValFraction);
        using var ds = TokenDataset.Open(result.OutputDirectory);
        var tok = ds.CreateTokenizer();
        Corpus.AssertSameMultiset(jsonDocs.Where(d => d.Year >= 2000).Select(d => d.Text), Corpus.Documents(ds.Val, tok));
        Corpus.AssertSameMultiset(jsonDocs.Where(d => d.Year < 2000).Select(d => d.Text), Corpus.Documents(ds.Train, tok));
    }

    [Theory]
    [InlineData("year = 1960", 1)]
    [InlineData("year==1960", 1)]
    [InlineData("year != 1960", 66)]
    [InlineData("year<1955", 5)]
    [InlineData("year<=1955", 6)]
    [InlineData("year>2010", 6)]
    [InlineData("other = 'x'", 67)]
    [InlineData("other>\"w\"", 67)]
    public void ValWhereOperators(string expression, int valDocuments)
    {
        var (_, jsonl, _, _) = MakeCorpus();
        var result = DatasetPreparer.Prepare(Options(jsonl) with { ValWhere = expression });
        Assert.Equal(valDocuments, result.Meta.Val.Documents);
        Assert.Equal(67, result.Meta.Train.Documents + result.Meta.Val.Documents);
    }

    [Fact]
    public void ValWhereComparesNumbersNumericallyAndStringsOrdinally()
    {
        static JsonElement Doc(string json) => JsonDocument.Parse(json).RootElement;
        var c = ValCondition.Parse("v >= 10");
        Assert.True(c.IsMatch(Doc("""{"v": 9.5e1}"""), "f", 1));
        Assert.True(c.IsMatch(Doc("""{"v": "10"}"""), "f", 1));
        Assert.False(c.IsMatch(Doc("""{"v": 9}"""), "f", 1));     // numerically; as strings "9" > "10"
        var s = ValCondition.Parse("v < b");
        Assert.True(s.IsMatch(Doc("""{"v": "a"}"""), "f", 1));
        Assert.True(s.IsMatch(Doc("""{"v": "B"}"""), "f", 1));    // ordinal: 'B' < 'b'
        Assert.Throws<InvalidDataException>(() => s.IsMatch(Doc("""{"v": null}"""), "f", 1));
        Assert.Throws<ArgumentException>(() => ValCondition.Parse("year"));
        Assert.Throws<ArgumentException>(() => ValCondition.Parse(">= 3"));
        Assert.Throws<ArgumentException>(() => ValCondition.Parse("year !3"));
        Assert.Throws<ArgumentException>(() => ValCondition.Parse("year >="));
    }

    [Fact]
    public void SameSeedGivesByteIdenticalShardsWhateverTheThreadCount()
    {
        var (folder, jsonl, _, _) = MakeCorpus();
        var a = DatasetPreparer.Prepare(Options(folder, jsonl) with { OutputDirectory = dir["a"], Threads = 1, Tokenizer = "gpt2", ShardTokens = 700 });
        var b = DatasetPreparer.Prepare(Options(folder, jsonl) with { OutputDirectory = dir["b"], Threads = 4, Tokenizer = "gpt2", ShardTokens = 700 });
        var c = DatasetPreparer.Prepare(Options(folder, jsonl) with { OutputDirectory = dir["c"], Threads = 2, Tokenizer = "gpt2", ShardTokens = 700, Seed = 99 });
        var files = Directory.GetFiles(a.OutputDirectory, "*.bin").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(files, Directory.GetFiles(b.OutputDirectory, "*.bin").Select(Path.GetFileName).Order().ToList());
        foreach (var f in files)
            Assert.Equal(File.ReadAllBytes(Path.Combine(a.OutputDirectory, f!)), File.ReadAllBytes(Path.Combine(b.OutputDirectory, f!)));
        Assert.Equal((a.Meta with { CreatedUtc = default }).ToJson(), (b.Meta with { CreatedUtc = default }).ToJson());
        // another seed draws another validation set (the same documents in all)
        Assert.NotEqual(a.Meta.Val.Tokens, c.Meta.Val.Tokens);
        Assert.Equal(a.Meta.Train.Tokens + a.Meta.Val.Tokens, c.Meta.Train.Tokens + c.Meta.Val.Tokens);
    }

    [Fact]
    public void MissingInputFailsAndWritesNothing()
    {
        string missing = dir["nope/missing.jsonl"];
        var e = Assert.Throws<FileNotFoundException>(() => DatasetPreparer.Prepare(Options(missing)));
        Assert.Equal($"input not found: {missing}", e.Message);
        AssertNothingWritten();
    }

    [Fact]
    public void EmptyCorpusFailsAndWritesNothing()
    {
        Directory.CreateDirectory(dir["empty"]);
        dir.WriteText("empty/readme.csv", "not matched by the globs");
        var e = Assert.Throws<InvalidDataException>(() => DatasetPreparer.Prepare(Options(dir["empty"])));
        Assert.StartsWith($"no documents found in {dir["empty"]}", e.Message);
        AssertNothingWritten();

        string blank = dir.WriteJsonl("blank.jsonl", ["", "  ", """{"text": ""}"""]);
        e = Assert.Throws<InvalidDataException>(() => DatasetPreparer.Prepare(Options(blank)));
        Assert.Equal($"no documents found in {blank} (1 empty documents skipped)", e.Message);
        AssertNothingWritten();
    }

    [Fact]
    public void UnknownTokenizerFailsAndWritesNothing()
    {
        var (_, jsonl, _, _) = MakeCorpus();
        var e = Assert.Throws<ArgumentException>(() => DatasetPreparer.Prepare(Options(jsonl) with { Tokenizer = "bpe" }));
        Assert.Equal("unknown tokenizer 'bpe'; known: byte, gpt2, cl100k_base", e.Message);
        AssertNothingWritten();
    }

    [Theory]
    [InlineData("""{"text": "ok"}""" + "\n" + """{"text": "broken""", 2, "not valid JSON")]
    [InlineData("""{"text": "ok"}""" + "\n\n" + """{"body": "no text field"}""", 3, "no field 'text'")]
    [InlineData("""{"text": 5}""", 1, "field 'text' is number, not a string")]
    [InlineData("""["text"]""", 1, "expected a JSON object")]
    public void BadJsonlLineNamesFileAndLineAndWritesNothing(string content, int line, string problem)
    {
        var lines = Enumerable.Repeat("""{"text": "fine"}""", 5000).Append(content);   // the bad line is in the second batch
        string path = dir.WriteJsonl("bad.jsonl.gz", lines);
        var e = Assert.Throws<InvalidDataException>(() => DatasetPreparer.Prepare(Options(path)));
        Assert.StartsWith($"{path}:{5000 + line}: {problem}", e.Message);
        AssertNothingWritten();
    }

    [Fact]
    public void ValWhereOnADocumentWithoutTheFieldNamesFileAndLine()
    {
        string path = dir.WriteJsonl("docs.jsonl", ["""{"text": "a", "year": 1999}""", """{"text": "b"}"""]);
        var e = Assert.Throws<InvalidDataException>(() => DatasetPreparer.Prepare(Options(path) with { ValWhere = "year>=2000" }));
        Assert.Equal($"{path}:2: no field 'year' for --val-where year>=2000", e.Message);
        AssertNothingWritten();
    }

    [Fact]
    public void CorruptGzipNamesTheFileAndWritesNothing()
    {
        var (_, jsonl, _, _) = MakeCorpus();
        var bytes = File.ReadAllBytes(jsonl);
        for (int i = 20; i < bytes.Length - 20; i++) bytes[i] ^= 0x5A;
        string bad = dir["bad.jsonl.gz"];
        File.WriteAllBytes(bad, bytes);
        var e = Assert.Throws<InvalidDataException>(() => DatasetPreparer.Prepare(Options(bad)));
        Assert.StartsWith(bad, e.Message);
        AssertNothingWritten();
    }

    [Fact]
    public void ValWhereRefusesTextInputs()
    {
        var (folder, _, _, _) = MakeCorpus();
        var e = Assert.Throws<ArgumentException>(() => DatasetPreparer.Prepare(Options(folder) with { ValWhere = "year>1" }));
        Assert.Contains("is a text file", e.Message);
        AssertNothingWritten();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NonEmptyOutputThatHoldsNoDatasetIsRefusedEvenWithForce(bool force)
    {
        // Issue 13.1: `prepare --out DIR --force` used to delete everything in DIR (`--out .` wiped the working directory).
        var (_, jsonl, _, _) = MakeCorpus();
        dir.WriteText("out/ds/keep.txt", "precious");
        dir.WriteText("out/ds/sub/also.txt", "precious too");
        var e = Assert.Throws<IOException>(() => DatasetPreparer.Prepare(Options(jsonl) with { Force = force }));
        Assert.Contains("holds no dataset", e.Message);
        Assert.Contains("keep.txt", e.Message);
        Assert.Equal("precious", File.ReadAllText(dir["out/ds/keep.txt"]));
        Assert.Equal("precious too", File.ReadAllText(dir["out/ds/sub/also.txt"]));
        Assert.False(File.Exists(dir["out/ds/meta.json"]));
        Assert.Single(Directory.EnumerateFileSystemEntries(dir["out"]));   // no temp directory left
    }

    [Fact]
    public void ExistingDatasetIsRefusedWithoutForce()
    {
        var (_, jsonl, _, _) = MakeCorpus();
        var first = DatasetPreparer.Prepare(Options(jsonl));
        var e = Assert.Throws<IOException>(() => DatasetPreparer.Prepare(Options(jsonl) with { Tokenizer = "gpt2" }));
        Assert.Contains("--force", e.Message);
        Assert.Contains("other files are kept", e.Message);
        using var ds = TokenDataset.Open(first.OutputDirectory);
        Assert.Equal(first.Meta.Tokenizer, ds.Meta.Tokenizer);
    }

    [Fact]
    public void ForceReplacesOnlyTheDatasetsOwnFiles()
    {
        var (folder, jsonl, _, _) = MakeCorpus();
        var first = DatasetPreparer.Prepare(Options(folder, jsonl) with { ShardTokens = 1000 });
        Assert.True(first.Meta.Train.Shards.Count > 3);
        dir.WriteText("out/ds/notes.txt", "mine");
        dir.WriteText("out/ds/train_99999.bin.bak", "mine too");

        var second = DatasetPreparer.Prepare(Options(jsonl) with { Force = true, Tokenizer = "gpt2" });
        using var ds = TokenDataset.Open(second.OutputDirectory);
        Assert.Equal("gpt2", ds.Meta.Tokenizer);
        Assert.Equal("mine", File.ReadAllText(dir["out/ds/notes.txt"]));
        Assert.Equal("mine too", File.ReadAllText(dir["out/ds/train_99999.bin.bak"]));
        var expected = DatasetDirectory.OwnedFiles(second.Meta).Append("notes.txt").Append("train_99999.bin.bak").Order(StringComparer.Ordinal);
        Assert.Equal(expected, Directory.GetFileSystemEntries(second.OutputDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Single(Directory.EnumerateFileSystemEntries(dir["out"]));   // no temp or old directory left
    }

    [Fact]
    public void ForceRefusesADatasetWhoseMetaNamesFilesOutsideIt()
    {
        var (_, jsonl, _, _) = MakeCorpus();
        var first = DatasetPreparer.Prepare(Options(jsonl));
        dir.WriteText("out/victim.txt", "outside the dataset");
        var meta = first.Meta with { ExtraFiles = ["../victim.txt"] };
        File.WriteAllText(Path.Combine(first.OutputDirectory, DatasetMeta.FileName), meta.ToJson());
        var e = Assert.Throws<InvalidDataException>(() => DatasetPreparer.Prepare(Options(jsonl) with { Force = true }));
        Assert.Contains("../victim.txt", e.Message);
        Assert.Equal("outside the dataset", File.ReadAllText(dir["out/victim.txt"]));
        Assert.True(File.Exists(Path.Combine(first.OutputDirectory, first.Meta.Train.Shards[0].File)));
    }

    [Fact]
    public void EmptyOutputDirectoryIsUsed()
    {
        var (_, jsonl, _, _) = MakeCorpus();
        Directory.CreateDirectory(dir["out/ds"]);
        var result = DatasetPreparer.Prepare(Options(jsonl));
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, "meta.json")));
    }

    [Fact]
    public void ProgressIsReported()
    {
        var (folder, jsonl, textDocs, jsonDocs) = MakeCorpus();
        var reports = new List<PrepareProgress>();
        DatasetPreparer.Prepare(Options(folder, jsonl), new SyncProgress(reports.Add));
        Assert.NotEmpty(reports);
        Assert.Equal(textDocs.Count + jsonDocs.Count, reports[^1].Documents);
        Assert.Equal(reports[^1].InputBytesTotal, reports[^1].InputBytesRead);
    }

    private sealed class SyncProgress(Action<PrepareProgress> report) : IProgress<PrepareProgress>
    {
        public void Report(PrepareProgress value) => report(value);
    }

    [Fact]
    public void AValWhereThatLeavesASplitEmptyIsWarnedAbout()
    {
        var (_, jsonl, _, _) = MakeCorpus();
        var r = DatasetPreparer.Prepare(Options(jsonl) with { ValWhere = "year>=abc" });
        Assert.Equal("the validation split is empty: --val-where year>=abc puts all 67 documents into the other", Assert.Single(r.Warnings));
    }

    [Fact]
    public void AnEmptySplitAndABinaryInputAreWarnedAbout()
    {
        var (folder, _, _, _) = MakeCorpus();
        var all = DatasetPreparer.Prepare(Options(folder) with { ValFraction = 0 });
        Assert.Contains(all.Warnings, w => w.StartsWith("the validation split is empty: --val-fraction 0 puts all", StringComparison.Ordinal));
        var bytes = new byte[4000];
        new Random(3).NextBytes(bytes);
        Directory.CreateDirectory(dir["bin"]);
        File.WriteAllBytes(dir["bin/blob.txt"], bytes);
        var r = DatasetPreparer.Prepare(Options(dir["bin"], folder) with { OutputDirectory = dir["out/with-binary"], ValFraction = 0.5 });
        var w = Assert.Single(r.Warnings);
        Assert.StartsWith(dir["bin/blob.txt"] + ": ", w);
        Assert.Contains("are not valid UTF-8 text: is it a binary file?", w);
        Assert.Empty(DatasetPreparer.Prepare(Options(folder) with { OutputDirectory = dir["out/clean"], ValFraction = 0.5 }).Warnings);
    }
}
