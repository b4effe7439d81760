using DiffTransformer.Model;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Model;

/// <summary>
/// <see cref="LanguageModel.DecodeRows"/>, one step for several sequences of different lengths each with its own cache,
/// against the single-sequence cached step on each sequence alone.
/// </summary>
public sealed class BatchedDecodeTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData(Architecture.Diff, null)]
    [InlineData(Architecture.Diff, 1)]
    [InlineData(Architecture.Transformer, null)]
    public void EachRowGetsWhatItGetsAlone(Architecture arch, int? kv)
    {
        using var model = KvCacheTests.SharpModel(KvCacheTests.Tiny(arch, kv), 5);
        int[] lengths = [3, 9, 1, 20];
        var rng = new Random(3);
        var prompts = lengths.Select(n => Enumerable.Range(0, n).Select(_ => (long)rng.Next(50)).ToArray()).ToArray();
        var batched = prompts.Select(_ => model.CreateCache()).ToArray();
        var alone = prompts.Select(_ => model.CreateCache()).ToArray();
        var next = new long[prompts.Length];
        using (no_grad())
        {
            for (int i = 0; i < prompts.Length; i++)
            {
                using var scope = NewDisposeScope();
                var t = tensor(prompts[i]).view(1, -1);
                _ = model.Forward(t, 0, null, batched[i]);
                next[i] = model.Forward(t, 0, null, alone[i])[0, -1].argmax().item<long>();
            }
            double worst = 0;
            for (int step = 0; step < 6; step++)
            {
                using var scope = NewDisposeScope();
                var rows = model.DecodeRows(tensor(next).view(-1, 1), batched);                         // (B, V)
                for (int i = 0; i < prompts.Length; i++)
                {
                    var one = model.Forward(tensor(new[] { next[i] }).view(1, 1), alone[i].Length, null, alone[i]).view(-1); // (V)
                    worst = Math.Max(worst, rows[i].sub(one).abs().max().item<float>());
                    TensorAssert.Close(null, $"step {step} row {i}", rows[i], one, rtol: 1e-5, atol: 1e-5);
                    next[i] = one.argmax().item<long>();
                    Assert.Equal(next[i], rows[i].argmax().item<long>());
                }
                Assert.All(batched.Zip(alone), p => Assert.Equal(p.Second.Length, p.First.Length));
            }
            log.WriteLine($"{arch} kv {kv}: worst |batched − alone| logit {worst:E2}");
        }
        foreach (var c in batched.Concat(alone)) c.Dispose();
    }

    [Fact]
    public void RefusesMismatchedOrPaddedCaches()
    {
        using var model = KvCacheTests.SharpModel(KvCacheTests.Tiny(Architecture.Diff, null), 5);
        using var a = model.CreateCache();
        using var padded = model.CreateCache(leftPadding: [1]);
        using (no_grad())
        {
            var two = tensor(new long[] { 1, 2 }).view(2, 1);
            Assert.Contains("one cache per row", Assert.Throws<ArgumentException>(() => model.DecodeRows(two, [a])).Message);
            Assert.Contains("without padding", Assert.Throws<ArgumentException>(() => model.DecodeRows(two, [a, padded])).Message);
        }
    }
}
