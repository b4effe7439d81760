using System.Buffers.Binary;
using System.Text;
using DiffTransformer.IO;
using DiffTransformer.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.IO;

public sealed class WeightsTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("difft-weights-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static ModelConfig Cfg(bool tied = false) => new()
    {
        VocabSize = 30, EmbedDim = 16, NumLayers = 2, NumHeads = 2, NumKvHeads = 1, FfnDim = 24, TieEmbeddings = tied,
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SaveThenLoadIsBitExact(bool tied)
    {
        manual_seed(21);
        using var model = new LanguageModel(Cfg(tied));
        string path = Path.Combine(dir, "m");
        ModelStore.Save(model, path, tokenizer: "byte");
        Assert.True(File.Exists(Path.Combine(path, "model.safetensors")));
        Assert.Equal("byte", ModelStore.LoadTokenizerName(path));
        Assert.Equal(model.Config, ModelConfig.Load(Path.Combine(path, "config.json")));
        manual_seed(99); // the loaded model starts from different random weights
        using var loaded = ModelStore.Load(path);
        Assert.Equal(model.Config, loaded.Config);
        var a = model.state_dict();
        var b = loaded.state_dict();
        Assert.Equal(a.Keys, b.Keys);
        foreach (var k in a.Keys)
            Assert.True(a[k].bytes.SequenceEqual(b[k].bytes), $"{k} differs after the round trip");
        using var scope = NewDisposeScope();
        var tokens = randint(0, 30, [1, 7]);
        Assert.True(model.Forward(tokens).eq(loaded.Forward(tokens)).all().item<bool>());
    }

    [Theory]
    [InlineData("attn_mha_depth0")]
    [InlineData("attn_gqa_depth3")]
    public void LoadsAnAttentionModuleFromThePyTorchStateDict(string fixture)
    {
        // The .weights file holds exactly the reference module's nine keys, as PyTorch's state_dict() names them.
        using var f = Fixtures.Open(fixture);
        var c = System.Text.Json.JsonDocument.Parse(f.Metadata["config"]).RootElement;
        int? kv = c.GetProperty("num_kv_heads").ValueKind == System.Text.Json.JsonValueKind.Null ? null : c.GetProperty("num_kv_heads").GetInt32();
        using var attn = new DifferentialAttention(c.GetProperty("embed_dim").GetInt32(), c.GetProperty("depth").GetInt32(), c.GetProperty("num_heads").GetInt32(), kv);
        ModuleWeights.Load(attn, Path.Combine(AppContext.BaseDirectory, "fixtures", fixture + ".weights.safetensors"));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        TensorAssert.Close(log, "y from loaded weights", attn.Forward(f.Read("input.x")), f.Read("output.y"));
    }

    // ---- bad files ----

    private string SaveAttention(out DifferentialAttention attn)
    {
        manual_seed(22);
        attn = new DifferentialAttention(16, 0, 2);
        string path = Path.Combine(dir, "attn.safetensors");
        ModuleWeights.Save(attn, path);
        return path;
    }

    private string WriteTensors(string name, Dictionary<string, Tensor> tensors)
    {
        string path = Path.Combine(dir, name);
        SafeTensorsFile.Save(path, tensors);
        return path;
    }

    private static void AssertUntouched(DifferentialAttention attn, Dictionary<string, Tensor> before)
    {
        foreach (var (k, v) in attn.state_dict()) Assert.True(v.eq(before[k]).all().item<bool>(), $"{k} changed by a failed load");
    }

    private static Dictionary<string, Tensor> Snapshot(DifferentialAttention attn) =>
        attn.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    private SafeTensorsException LoadFails(DifferentialAttention attn, string path)
    {
        var before = Snapshot(attn);
        var e = Assert.Throws<SafeTensorsException>(() => ModuleWeights.Load(attn, path));
        log.WriteLine(e.Message);
        Assert.Contains(path, e.Message);
        AssertUntouched(attn, before);
        return e;
    }

    [Fact]
    public void MissingKeyIsNamed()
    {
        SaveAttention(out var attn);
        using (attn)
        {
            var sd = attn.state_dict().Where(kv => kv.Key != "lambda_k2").ToDictionary();
            var e = LoadFails(attn, WriteTensors("missing.safetensors", sd));
            Assert.Contains("missing key 'lambda_k2'", e.Message);
        }
    }

    [Fact]
    public void ExtraKeyIsRefusedWhenStrict()
    {
        SaveAttention(out var attn);
        using (attn)
        {
            var sd = attn.state_dict().ToDictionary();
            sd["rotary.inv_freq"] = ones(4);
            string path = WriteTensors("extra.safetensors", sd);
            var e = LoadFails(attn, path);
            Assert.Contains("unexpected key 'rotary.inv_freq'", e.Message);
            ModuleWeights.Load(attn, path, strict: false); // accepted when asked
        }
    }

    [Fact]
    public void WrongShapeIsNamed()
    {
        SaveAttention(out var attn);
        using (attn)
        {
            var sd = attn.state_dict().ToDictionary();
            sd["q_proj.weight"] = zeros(16, 8);
            var e = LoadFails(attn, WriteTensors("shape.safetensors", sd));
            Assert.Contains("key 'q_proj.weight' has shape [16, 8], the model expects [16, 16]", e.Message);
        }
    }

    [Fact]
    public void WrongDtypeIsNamed()
    {
        SaveAttention(out var attn);
        using (attn)
        {
            var sd = attn.state_dict().ToDictionary();
            sd["subln.weight"] = ones(8, dtype: ScalarType.Float64);
            var e = LoadFails(attn, WriteTensors("dtype.safetensors", sd));
            Assert.Contains("key 'subln.weight' is stored as F64, the model expects F32", e.Message);
        }
    }

    [Fact]
    public void TruncatedFilesAreReportedNotCrashed()
    {
        string good = SaveAttention(out var attn);
        using (attn)
        {
            byte[] bytes = File.ReadAllBytes(good);
            long headerLen = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            foreach (long cut in new[] { 0L, 5L, 8L + headerLen / 2, 8L + headerLen + 10, bytes.Length - 1L })
            {
                string path = Path.Combine(dir, $"cut{cut}.safetensors");
                File.WriteAllBytes(path, bytes[..(int)cut]);
                var e = LoadFails(attn, path);
                Assert.Matches("truncated|too short", e.Message);
            }
        }
    }

    [Fact]
    public void CorruptFilesAreReportedNotCrashed()
    {
        SaveAttention(out var attn);
        using (attn)
        {
            void Check(string name, byte[] content, string expect)
            {
                string path = Path.Combine(dir, name);
                File.WriteAllBytes(path, content);
                Assert.Contains(expect, LoadFails(attn, path).Message);
            }
            byte[] Header(string json)
            {
                var h = Encoding.UTF8.GetBytes(json);
                var b = new byte[8 + h.Length + 64];
                BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)h.Length);
                h.CopyTo(b, 8);
                return b;
            }
            Check("text.safetensors", Encoding.UTF8.GetBytes("this is not a safetensors file at all, just text"), "not plausible");
            Check("json.safetensors", Header("{\"a\": {\"dtype\": \"F32\", "), "not valid JSON");
            Check("dtype.safetensors", Header("{\"q_proj.weight\": {\"dtype\": \"Q7\", \"shape\": [1], \"data_offsets\": [0, 4]}}"), "tensor 'q_proj.weight': unsupported dtype Q7");
            Check("size.safetensors", Header("{\"q_proj.weight\": {\"dtype\": \"F32\", \"shape\": [4, 4], \"data_offsets\": [0, 60]}}"), "tensor 'q_proj.weight': data_offsets [0, 60] hold 60 bytes, but F32 [4, 4] needs 64");
            Check("neg.safetensors", Header("{\"q_proj.weight\": {\"dtype\": \"F32\", \"shape\": [-4], \"data_offsets\": [0, 16]}}"), "tensor 'q_proj.weight': shape");
            Check("overlap.safetensors", Header("{\"q_proj.weight\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}, " +
                                                "\"k_proj.weight\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}"),
                  "tensors 'q_proj.weight' [0, 16] and 'k_proj.weight' [8, 24] overlap in data_offsets");
        }
    }

    [Fact]
    public void MissingFilesAndDirectoriesAreNamed()
    {
        string nowhere = Path.Combine(dir, "nope");
        var e = Assert.Throws<FileNotFoundException>(() => ModelStore.Load(nowhere));
        Assert.Contains(nowhere, e.Message);
        Directory.CreateDirectory(nowhere);
        e = Assert.Throws<FileNotFoundException>(() => ModelStore.Load(nowhere));
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void AModelOfAnotherShapeIsRefusedByKey()
    {
        manual_seed(23);
        using var model = new LanguageModel(Cfg());
        string path = Path.Combine(dir, "m");
        ModelStore.Save(model, path);
        // config.json edited to a deeper model: the weights file lacks layer 2
        (Cfg() with { NumLayers = 3 }).Save(Path.Combine(path, "config.json"));
        var e = Assert.Throws<SafeTensorsException>(() => ModelStore.Load(path));
        Assert.Contains("missing keys 'layers.2.", e.Message);
    }

    [Fact]
    public void AFailedAtomicWriteKeepsTheOldFile()
    {
        string path = Path.Combine(dir, "keep.txt");
        File.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("partial"u8);
            throw new InvalidOperationException("simulated crash mid-write");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir));
    }
}
