using DiffTransformer.Data;

namespace DiffTransformer.Tests.Data;

public sealed class TokenBatchSamplerTests
{
    // Token i has value i (mod 2^31), so a window's contents reveal where it starts.
    private static ArrayTokenSequence Counting(int n) => new(Enumerable.Range(0, n).ToArray(), "counting");

    [Fact]
    public void TargetsAreInputsShiftedByOne()
    {
        var sampler = new TokenBatchSampler(Counting(10_000), seed: 5);
        const int B = 8, T = 32;
        var (inputs, targets) = sampler.GetBatch(3, B, T);
        Assert.Equal(B * T, inputs.Length);
        Assert.Equal(B * T, targets.Length);
        for (int r = 0; r < B; r++)
        {
            long start = sampler.WindowStart(3, r, T);
            Assert.Equal(start, inputs[r * T]);
            for (int t = 0; t < T; t++)
            {
                Assert.Equal(start + t, inputs[r * T + t]);
                Assert.Equal(inputs[r * T + t] + 1, targets[r * T + t]);
            }
        }
    }

    [Fact]
    public void BatchesAreAFunctionOfSeedAndIndexOnly()
    {
        var seq = Counting(50_000);
        var a = new TokenBatchSampler(seq, seed: 42);
        var b = new TokenBatchSampler(seq, seed: 42);
        var other = new TokenBatchSampler(seq, seed: 43);
        var later = b.GetBatch(1000, 4, 64);   // out of order: no hidden state
        Assert.Equal(a.GetBatch(7, 4, 64).Inputs, b.GetBatch(7, 4, 64).Inputs);
        Assert.Equal(a.GetBatch(1000, 4, 64).Targets, later.Targets);
        Assert.NotEqual(a.GetBatch(7, 4, 64).Inputs, a.GetBatch(8, 4, 64).Inputs);
        Assert.NotEqual(a.GetBatch(7, 4, 64).Inputs, other.GetBatch(7, 4, 64).Inputs);
        // the first rows of a larger batch are the rows of the smaller one
        Assert.Equal(a.GetBatch(9, 2, 64).Inputs, a.GetBatch(9, 4, 64).Inputs.Take(128));
    }

    [Fact]
    public void WindowStartsCoverTheWholeValidRangeUniformly()
    {
        const int N = 100, T = 10;   // valid starts 0..89
        var sampler = new TokenBatchSampler(Counting(N), seed: 1);
        var counts = new int[N - T];
        for (long b = 0; b < 2000; b++)
            for (int r = 0; r < 9; r++)
                counts[sampler.WindowStart(b, r, T)]++;
        // 18,000 draws over 90 starts: 200 expected each; every start is hit, none wildly over or under
        Assert.All(counts, c => Assert.InRange(c, 130, 270));
        var (_, targets) = sampler.GetBatch(0, 64, T);
        Assert.True(targets.Max() <= N - 1);
    }

    [Fact]
    public void EvalBatchesAreFixedEvenlySpacedAndFull()
    {
        var sampler = new TokenBatchSampler(Counting(10_001), seed: 1);
        var first = sampler.EvalBatches(4, 100, 10).ToList();
        var again = new TokenBatchSampler(Counting(10_001), seed: 999).EvalBatches(4, 100, 10).ToList();
        Assert.Equal(first.Count, again.Count);
        for (int i = 0; i < first.Count; i++) Assert.Equal(first[i].Inputs, again[i].Inputs);
        // 100 disjoint windows of 100 fit, so 10 batches of 4; the windows start from 0 to the last valid start
        Assert.Equal(10, first.Count);
        var starts = first.SelectMany(b => Enumerable.Range(0, 4).Select(r => b.Inputs[r * 100])).ToList();
        Assert.Equal(0, starts[0]);
        Assert.Equal(10_001 - 100 - 1, starts[^1]);
        var gaps = starts.Zip(starts.Skip(1), (x, y) => y - x).ToList();
        Assert.True(gaps.Max() - gaps.Min() <= 1, string.Join(",", gaps));
        Assert.True(gaps.Min() >= 100);   // no overlap when the split has room
    }

    [Fact]
    public void EvalBatchCountShrinksForSmallSplits()
    {
        var sampler = new TokenBatchSampler(Counting(1000), seed: 1);
        Assert.Equal(2, sampler.EvalBatchCount(4, 100, 50));   // 9 disjoint windows → 2 full batches
        Assert.Equal(1, sampler.EvalBatchCount(64, 100, 50));  // at least one, overlapping
        Assert.Single(sampler.EvalBatches(64, 100, 50));
    }

    [Fact]
    public void TooShortSplitGivesBothLengths()
    {
        var sampler = new TokenBatchSampler(Counting(100), seed: 1);
        var e = Assert.Throws<ArgumentException>(() => sampler.GetBatch(0, 2, 100));
        Assert.Equal("counting has 100 tokens, too few for one window of seq_len + 1 = 101", e.Message);
        Assert.Throws<ArgumentException>(() => sampler.EvalBatches(2, 100, 1));
        sampler.GetBatch(0, 2, 99);   // exactly seq_len + 1 tokens is enough
    }

    [Fact]
    public void SamplesAPreparedSplitAcrossShards()
    {
        using var dir = new TempDir();
        var docs = Corpus.Random(200, 3);
        string jsonl = dir.WriteJsonl("d.jsonl", docs.Select((t, i) => Corpus.JsonLine(t, i)));
        var result = DatasetPreparer.Prepare(new PrepareOptions { Inputs = [jsonl], OutputDirectory = dir["ds"], ShardTokens = 997, ValFraction = 0 });
        using var ds = TokenDataset.Open(result.OutputDirectory);
        Assert.True(ds.Train.Shards.Count > 5);
        Assert.Equal(0, ds.Val.Length);
        var all = ds.Train.ToArray();
        var sampler = new TokenBatchSampler(ds.Train, seed: 7);
        var (inputs, targets) = sampler.GetBatch(0, 16, 256);
        for (int r = 0; r < 16; r++)
        {
            long start = sampler.WindowStart(0, r, 256);
            Assert.Equal(all.Skip((int)start).Take(256).Select(t => (long)t), inputs.Skip(r * 256).Take(256));
            Assert.Equal(all.Skip((int)start + 1).Take(256).Select(t => (long)t), targets.Skip(r * 256).Take(256));
        }
        var e = Assert.Throws<ArgumentException>(() => new TokenBatchSampler(ds.Val, 1).GetBatch(0, 1, 8));
        Assert.StartsWith("val has 0 tokens", e.Message);
    }
    // Documents of lengths 3..20 (tokens 1..), each followed by end-of-text 0; returns the sequence and the EOT positions.
    private static (ArrayTokenSequence Tokens, List<long> Eots) Documents(int documents, int seed)
    {
        var rng = new Random(seed);
        var tokens = new List<int>();
        var eots = new List<long>();
        for (int d = 0; d < documents; d++)
        {
            int n = rng.Next(3, 21);
            for (int i = 0; i < n; i++) tokens.Add(1 + rng.Next(50));
            eots.Add(tokens.Count);
            tokens.Add(0);
        }
        return (new ArrayTokenSequence([.. tokens], "docs"), eots);
    }

    [Fact]
    public void DocumentWindowsStartAtEveryEndOfTextThatLeavesRoomAndNowhereElse()
    {
        const int T = 16;
        var (seq, eots) = Documents(300, seed: 3);
        var starts = TokenBatchSampler.DocumentStarts(seq, endOfText: 0, T);
        // every end-of-text with room for T + 1 tokens, in order; the last ones, too close to the end, are left out
        Assert.Equal(eots.Where(p => p + T + 1 <= seq.Length), starts);
        Assert.True(starts.Length < eots.Count);
        var sampler = new TokenBatchSampler(seq, seed: 9, starts, T);
        Assert.Equal(starts.Length, sampler.WindowStartCount);
        var hit = new HashSet<long>();
        for (long row = 0; row < 20_000; row++)
        {
            var (inputs, targets) = sampler.GetRows(row, 1, T);
            Assert.Equal(0, inputs[0]);                         // the window holds the end-of-text, then a document from its start
            Assert.Equal(inputs.Skip(1), targets.Take(T - 1));
            hit.Add(sampler.WindowStart(row, 0, T));
        }
        Assert.Equal(starts.Length, hit.Count);                // every start is drawn
        Assert.Subset(starts.ToHashSet(), hit);
        // validation windows follow the same rule: evenly spaced among the starts, from the first to the last
        var eval = sampler.EvalBatches(4, T, maxBatches: 3).ToList();
        Assert.Equal(3, eval.Count);
        var evalStarts = eval.SelectMany(e => Enumerable.Range(0, 4).Select(r => e.Inputs[r * T])).ToList();
        Assert.All(evalStarts, v => Assert.Equal(0, v));
        long[] Window(long start) { var w = new long[T]; seq.CopyTo(start, w); return w; }
        Assert.Equal(Window(starts[0]), eval[0].Inputs.Take(T));
        Assert.Equal(Window(starts[^1]), eval[^1].Inputs.Skip(3 * T));
        Assert.Equal(Window(starts[(int)(5L * (starts.Length - 1) / 11)]), eval[1].Inputs.Skip(T).Take(T));   // window 5 of 12
    }

    [Fact]
    public void DocumentWindowsAreAFunctionOfSeedAndRowOnly()
    {
        const int T = 16;
        var (seq, _) = Documents(200, seed: 4);
        var starts = TokenBatchSampler.DocumentStarts(seq, 0, T);
        var a = new TokenBatchSampler(seq, 42, starts, T);
        var b = new TokenBatchSampler(seq, 42, starts, T);
        var later = b.GetRows(500, 4, T);                        // out of order: no hidden state
        Assert.Equal(a.GetRows(500, 4, T).Inputs, later.Inputs);
        Assert.Equal(a.GetRows(10, 8, T).Inputs, a.GetRows(10, 4, T).Inputs.Concat(a.GetRows(14, 4, T).Inputs).ToArray());   // grouping does not matter
        Assert.NotEqual(a.GetRows(10, 8, T).Inputs, new TokenBatchSampler(seq, 43, starts, T).GetRows(10, 8, T).Inputs);
    }

    [Fact]
    public void ASequenceWithoutRoomyDocumentBoundariesIsRefusedByName()
    {
        var noEot = new ArrayTokenSequence(Enumerable.Repeat(5, 100).ToArray(), "train");
        var e = Assert.Throws<ArgumentException>(() => TokenBatchSampler.DocumentStarts(noEot, endOfText: 0, seqLen: 16));
        Assert.Contains("train", e.Message);
        Assert.Contains("end-of-text token 0", e.Message);
        Assert.Contains("seq_len + 1 = 17", e.Message);
        var (seq, _) = Documents(20, seed: 5);
        Assert.Throws<ArgumentException>(() => new TokenBatchSampler(seq, 1, [5, 3], 16));                 // not ascending
        Assert.Throws<ArgumentException>(() => new TokenBatchSampler(seq, 1, [seq.Length - 10], 16));     // no room
        Assert.Throws<ArgumentException>(() => new TokenBatchSampler(seq, 1, [], 16));
    }
}
