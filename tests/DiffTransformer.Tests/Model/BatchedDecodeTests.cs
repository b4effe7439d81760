using DiffTransformer.Kernels;
using DiffTransformer.Model;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Model;

/// <summary>
/// <see cref="LanguageModel.DecodeBatch"/> over a <see cref="BatchKvCache"/> — sequences of different lengths joining
/// and leaving — against the single-sequence cached step on each sequence alone.
/// </summary>
public sealed class BatchedDecodeTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData(Architecture.Diff, null)]
    [InlineData(Architecture.Diff, 1)]
    [InlineData(Architecture.Transformer, null)]
    public void EachRowGetsWhatItGetsAloneWhileSequencesJoinAndLeave(Architecture arch, int? kv)
    {
        using var model = KvCacheTests.SharpModel(KvCacheTests.Tiny(arch, kv), 5);
        int[] lengths = [3, 9, 1, 20, 6, 70];   // the last outgrows the batch's first allocation of 64 positions
        var rng = new Random(3);
        var prompts = lengths.Select(n => Enumerable.Range(0, n).Select(_ => (long)rng.Next(50)).ToArray()).ToArray();
        using var batch = model.CreateBatchCache();
        var slots = new List<int>();                       // slots[j] = the prompt in batch slot j
        var alone = new Dictionary<int, KvCache>();
        var next = new long[prompts.Length];
        double worst = 0;

        void Join(int i)
        {
            using var scope = NewDisposeScope();
            using var single = model.CreateCache();
            var t = tensor(prompts[i]).view(1, -1);
            _ = model.Forward(t, 0, null, single);
            alone[i] = model.CreateCache();
            next[i] = model.Forward(t, 0, null, alone[i])[0, -1].argmax().item<long>();
            Assert.Equal(slots.Count, batch.Add(single));
            slots.Add(i);
        }

        void Leave(int slot)
        {
            int moved = batch.RemoveAt(slot);
            if (moved >= 0) slots[slot] = slots[moved];
            slots.RemoveAt(slots.Count - 1);
        }

        using (no_grad())
        {
            foreach (int i in new[] { 0, 1, 2, 3 }) Join(i);
            for (int step = 0; step < 12; step++)
            {
                if (step == 3) Join(4);          // joins a running batch
                if (step == 5) Leave(1);         // the last slot moves into the freed one
                if (step == 7) { Leave(0); Join(5); }
                using var scope = NewDisposeScope();
                var rows = model.DecodeBatch(tensor(slots.Select(i => next[i]).ToArray()).view(-1, 1), batch);   // (B, V)
                for (int j = 0; j < slots.Count; j++)
                {
                    int i = slots[j];
                    var one = model.Forward(tensor(new[] { next[i] }).view(1, 1), alone[i].Length, null, alone[i]).view(-1); // (V)
                    worst = Math.Max(worst, rows[j].sub(one).abs().max().item<float>() / one.abs().max().item<float>());
                    TensorAssert.Close(null, $"step {step} prompt {i}", rows[j], one, rtol: 1e-5, atol: 1e-5);
                    next[i] = one.argmax().item<long>();
                    Assert.Equal(next[i], rows[j].argmax().item<long>());
                    Assert.Equal(alone[i].Length, batch.Lengths[j]);
                }
            }
        }
        log.WriteLine($"{arch} kv {kv}: worst |batched − alone| / max|logit| {worst:E2}");
        foreach (var c in alone.Values) c.Dispose();
        while (batch.Count > 0) Leave(batch.Count - 1);
        Assert.Equal(0, batch.AllocatedBytes);   // the last to leave frees the buffers
    }

    [Fact]
    public void RefusesMismatchedCachesAndBatches()
    {
        using var model = KvCacheTests.SharpModel(KvCacheTests.Tiny(Architecture.Diff, null), 5);
        using var batch = model.CreateBatchCache();
        using var empty = model.CreateCache();
        using var padded = model.CreateCache(leftPadding: [1]);
        Assert.Contains("no positions", Assert.Throws<ArgumentException>(() => batch.Add(empty)).Message);
        Assert.Contains("without padding", Assert.Throws<ArgumentException>(() => batch.Add(padded)).Message);
        using (no_grad())
        {
            using var one = model.CreateCache();
            _ = model.Forward(tensor(new long[] { 1, 2 }).view(1, 2), 0, null, one);
            batch.Add(one);
            var two = tensor(new long[] { 1, 2 }).view(2, 1);
            Assert.Contains("one token per sequence", Assert.Throws<ArgumentException>(() => model.DecodeBatch(two, batch)).Message);
            Assert.Equal(2, batch.Lengths[0]);   // a refused step changes nothing
            model.Quantization = new LogitQuantization(8, QuantGranularity.Tensor);
            Assert.Contains("does not quantise", Assert.Throws<NotSupportedException>(() => model.DecodeBatch(tensor(new long[] { 3 }).view(1, 1), batch)).Message);
            model.Quantization = null;
            Assert.Equal(2, batch.Lengths[0]);
            using var scope = NewDisposeScope();
            _ = model.DecodeBatch(tensor(new long[] { 3 }).view(1, 1), batch);   // the cache is still usable
            Assert.Equal(3, batch.Lengths[0]);
        }
    }

    /// <summary>
    /// A hidden position has weight 0, but 0 · NaN is NaN: whatever a leaving sequence held must be gone before another
    /// sequence's step reads its slot. Two poisoned sequences (NaN keys and values) leave, one from the middle (the
    /// short last sequence moves into its slot and overwrites only its own 3 positions) and one from the end (a
    /// newcomer takes that slot); with a long sequence beside them every row reads past its own end.
    /// </summary>
    [Theory]
    [InlineData(Architecture.Diff)]
    [InlineData(Architecture.Transformer)]
    public void NothingALeavingSequenceHeldReachesTheSequenceThatTakesItsSlot(Architecture arch)
    {
        using var model = KvCacheTests.SharpModel(KvCacheTests.Tiny(arch, null), 5);
        using var batch = model.CreateBatchCache();
        var rng = new Random(8);
        var alone = new List<(KvCache Cache, long Next)>();
        using (no_grad())
        {
            KvCache Prefilled(int n, bool poison)
            {
                using var scope = NewDisposeScope();
                var t = tensor(Enumerable.Range(0, n).Select(_ => (long)rng.Next(50)).ToArray()).view(1, -1);
                var c = model.CreateCache();
                _ = model.Forward(t, 0, null, c);
                if (poison)
                    for (int l = 0; l < c.Count; l++)
                    {
                        c[l].Keys!.fill_(Scalars.Of(float.NaN));
                        c[l].Values!.fill_(Scalars.Of(float.NaN));
                    }
                else
                {
                    var mine = model.CreateCache();
                    alone.Add((mine, model.Forward(t, 0, null, mine)[0, -1].argmax().item<long>()));
                }
                return c;
            }

            void Add(int n, bool poison = false)
            {
                using var c = Prefilled(n, poison);
                batch.Add(c);
            }

            Add(10, poison: true);
            Add(20);
            Add(3);
            Assert.Equal(2, batch.RemoveAt(0));   // the 3-token sequence moves into the poisoned slot
            Add(12, poison: true);
            Assert.Equal(-1, batch.RemoveAt(2));
            Add(4);                               // takes the poisoned last slot
            Assert.Equal(new long[] { 3, 20, 4 }, batch.Lengths);
            string[] names = ["3 tokens (moved)", "20 tokens", "4 tokens (new)"];
            var order = new[] { 1, 0, 2 };        // batch slot j holds alone[order[j]]
            for (int step = 0; step < 3; step++)
            {
                using var scope = NewDisposeScope();
                var rows = model.DecodeBatch(tensor(order.Select(i => alone[i].Next).ToArray()).view(-1, 1), batch);   // (B, V)
                Assert.True(rows.isfinite().all().item<bool>(), $"step {step}: a row read what a leaving sequence held");
                for (int j = 0; j < order.Length; j++)
                {
                    var (c, next) = alone[order[j]];
                    var one = model.Forward(tensor(new[] { next }).view(1, 1), c.Length, null, c).view(-1); // (V)
                    TensorAssert.Close(null, $"step {step}: {names[j]}", rows[j], one, rtol: 1e-5, atol: 1e-5);
                    alone[order[j]] = (c, one.argmax().item<long>());
                }
            }
        }
        foreach (var (c, _) in alone) c.Dispose();
    }
}
