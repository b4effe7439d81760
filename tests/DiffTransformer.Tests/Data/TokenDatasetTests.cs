using System.Text.Json.Nodes;
using DiffTransformer.Data;

namespace DiffTransformer.Tests.Data;

public sealed class TokenDatasetTests : IDisposable
{
    private readonly TempDir dir = new();
    private readonly string ds;

    public TokenDatasetTests()
    {
        string jsonl = dir.WriteJsonl("d.jsonl", Corpus.Random(100, 4).Select((t, i) => Corpus.JsonLine(t, i)));
        ds = DatasetPreparer.Prepare(new PrepareOptions { Inputs = [jsonl], OutputDirectory = dir["ds"], ShardTokens = 1500, ValFraction = 0.2 }).OutputDirectory;
    }

    public void Dispose() => dir.Dispose();

    private string MetaPath => Path.Combine(ds, DatasetMeta.FileName);

    private void EditMeta(Action<JsonObject> edit)
    {
        var node = JsonNode.Parse(File.ReadAllText(MetaPath))!.AsObject();
        edit(node);
        File.WriteAllText(MetaPath, node.ToJsonString());
    }

    [Fact]
    public void OpensAndMatchesTheMeta()
    {
        using var d = TokenDataset.Open(ds);
        Assert.Equal(d.Meta.Train.Tokens, d.Train.Length);
        Assert.Equal(d.Meta.Val.Tokens, d.Val.Length);
        Assert.Equal(100, d.Train.Documents + d.Val.Documents);
        Assert.Same(d.Val, d.Split("val"));
        Assert.Throws<ArgumentException>(() => d.Split("test"));
    }

    [Fact]
    public void MissingShardIsNamed()
    {
        File.Delete(Path.Combine(ds, "train_00001.bin"));
        var e = Assert.Throws<FileNotFoundException>(() => TokenDataset.Open(ds));
        Assert.Contains("train shard train_00001.bin is missing", e.Message);
    }

    [Fact]
    public void WrongTokenCountIsNamed()
    {
        EditMeta(m => m["train"]!["shards"]![0]!["tokens"] = 1499);
        var e = Assert.Throws<InvalidDataException>(() => TokenDataset.Open(ds));
        Assert.Contains("train_00000.bin: shard holds 1,500 tokens but meta.json lists 1,499", e.Message);
    }

    [Fact]
    public void SplitTotalIsChecked()
    {
        EditMeta(m => m["val"]!["tokens"] = 1);
        var e = Assert.Throws<InvalidDataException>(() => TokenDataset.Open(ds));
        Assert.Contains("val split lists 1 tokens but its shards hold", e.Message);
    }

    [Fact]
    public void TokenizerMismatchIsNamed()
    {
        EditMeta(m => m["tokenizer"] = "gpt2");
        var e = Assert.Throws<InvalidDataException>(() => TokenDataset.Open(ds));
        Assert.Contains("tokenizer 'byte' in the shard header differs from 'gpt2' in meta.json", e.Message);
    }

    [Fact]
    public void CorruptShardInADatasetIsNamed()
    {
        string shard = Path.Combine(ds, "val_00000.bin");
        using (var fs = new FileStream(shard, FileMode.Open)) fs.SetLength(fs.Length - 2);
        var e = Assert.Throws<InvalidDataException>(() => TokenDataset.Open(ds));
        Assert.StartsWith(shard, e.Message);
    }

    [Fact]
    public void MissingMetaAndUnknownVersionAreRefused()
    {
        EditMeta(m => m["format_version"] = 9);
        var e = Assert.Throws<InvalidDataException>(() => TokenDataset.Open(ds));
        Assert.Contains("unknown format_version 9", e.Message);
        File.Delete(MetaPath);
        Assert.Throws<FileNotFoundException>(() => TokenDataset.Open(ds));
        Assert.Throws<DirectoryNotFoundException>(() => TokenDataset.Open(dir["nowhere"]));
    }

    [Fact]
    public void ShardNamesMustStayInsideTheDataset()
    {
        EditMeta(m => m["train"]!["shards"]![0]!["file"] = "../d.jsonl");
        var e = Assert.Throws<InvalidDataException>(() => TokenDataset.Open(ds));
        Assert.Contains("is not a plain file name", e.Message);
    }
}
