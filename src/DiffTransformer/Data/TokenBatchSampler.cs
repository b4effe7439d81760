namespace DiffTransformer.Data;

/// <summary>Counter-based random numbers: a pure function of (seed, counters), so any draw can be recomputed.</summary>
public static class CounterHash
{
    /// <summary>The SplitMix64 output function (Steele, Lea, Flood 2014) applied to state <paramref name="z"/>.</summary>
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A 64-bit hash of (seed, a, b); every argument changes every output bit.</summary>
    public static ulong Hash(ulong seed, ulong a, ulong b = 0) => Mix(Mix(Mix(seed) ^ a) ^ b);

    /// <summary>Uniform double in [0, 1) from the top 53 bits of <see cref="Hash"/>.</summary>
    public static double Uniform(ulong seed, ulong a, ulong b = 0) => (Hash(seed, a, b) >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// An integer in [0, n) from the high half of hash × n (Lemire's multiply-shift; the bias, at most n / 2⁶⁴,
    /// is negligible for any token count).
    /// </summary>
    public static long Below(long n, ulong seed, ulong a, ulong b = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        return (long)Math.BigMul(Hash(seed, a, b), (ulong)n, out _);
    }
}

/// <summary>
/// Training windows over a token sequence, stateless in the batch index: row r of batch b starts at a position
/// drawn by <see cref="CounterHash"/> from (seed, b, r), uniformly over [0, Length − seqLen − 1]. Resuming
/// training exactly therefore needs only the batch index. Thread-safe; no TorchSharp (the trainer converts).
/// </summary>
public sealed class TokenBatchSampler
{
    private readonly ulong seed;

    public TokenBatchSampler(ITokenSequence tokens, long seed)
    {
        Tokens = tokens;
        Seed = seed;
        this.seed = (ulong)seed;
    }

    public ITokenSequence Tokens { get; }
    public long Seed { get; }

    /// <summary>Start offset of row <paramref name="row"/> of batch <paramref name="batchIndex"/>; the window is [start, start + seqLen + 1).</summary>
    public long WindowStart(long batchIndex, int row, int seqLen)
    {
        CheckLength(seqLen);
        return CounterHash.Below(Tokens.Length - seqLen, seed, (ulong)batchIndex, (ulong)row);
    }

    /// <summary>
    /// Batch <paramref name="batchIndex"/>: inputs and targets, each <paramref name="batchSize"/>×<paramref name="seqLen"/>
    /// row-major, with targets[r, t] = inputs[r, t + 1] within the window (the token after the input).
    /// </summary>
    public (long[] Inputs, long[] Targets) GetBatch(long batchIndex, int batchSize, int seqLen)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        CheckLength(seqLen);
        var starts = new long[batchSize];
        for (int r = 0; r < batchSize; r++) starts[r] = WindowStart(batchIndex, r, seqLen);
        return Gather(starts, seqLen);
    }

    /// <summary>
    /// Rows [<paramref name="firstRow"/>, firstRow + count) of the endless stream of training rows. Row r's window
    /// depends only on (seed, r), so however rows are grouped into micro-batches the data of an optimizer step is
    /// the same: gradient accumulation over k micro-batches sees exactly the rows of one big batch.
    /// </summary>
    public (long[] Inputs, long[] Targets) GetRows(long firstRow, int count, int seqLen)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        CheckLength(seqLen);
        var starts = new long[count];
        for (int r = 0; r < count; r++) starts[r] = WindowStart(firstRow + r, 0, seqLen);
        return Gather(starts, seqLen);
    }

    /// <summary>How many batches <see cref="EvalBatches"/> yields: at most <paramref name="maxBatches"/>, fewer when the split cannot fill them without overlapping windows (but at least one).</summary>
    public int EvalBatchCount(int batchSize, int seqLen, int maxBatches)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatches);
        CheckLength(seqLen);
        long disjointWindows = (Tokens.Length - 1) / seqLen;
        return (int)Math.Clamp(disjointWindows / batchSize, 1, maxBatches);
    }

    /// <summary>
    /// A fixed evaluation set: <see cref="EvalBatchCount"/> full batches whose windows are evenly spaced from the
    /// first to the last valid start. The same for every call, independent of the seed.
    /// </summary>
    public IEnumerable<(long[] Inputs, long[] Targets)> EvalBatches(int batchSize, int seqLen, int maxBatches)
    {
        int batches = EvalBatchCount(batchSize, seqLen, maxBatches);
        return Iterate();

        IEnumerable<(long[] Inputs, long[] Targets)> Iterate()
        {
            long lastStart = Tokens.Length - seqLen - 1;
            long windows = (long)batches * batchSize;
            for (int b = 0; b < batches; b++)
            {
                var starts = new long[batchSize];
                for (int r = 0; r < batchSize; r++)
                {
                    long i = (long)b * batchSize + r;
                    starts[r] = windows == 1 ? 0 : (long)((Int128)i * lastStart / (windows - 1));
                }
                yield return Gather(starts, seqLen);
            }
        }
    }

    private (long[] Inputs, long[] Targets) Gather(long[] starts, int seqLen)
    {
        var inputs = new long[starts.Length * seqLen];
        var targets = new long[starts.Length * seqLen];
        var window = new long[seqLen + 1];
        for (int r = 0; r < starts.Length; r++)
        {
            Tokens.CopyTo(starts[r], window);
            window.AsSpan(0, seqLen).CopyTo(inputs.AsSpan(r * seqLen, seqLen));
            window.AsSpan(1, seqLen).CopyTo(targets.AsSpan(r * seqLen, seqLen));
        }
        return (inputs, targets);
    }

    private void CheckLength(int seqLen)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seqLen);
        if (Tokens.Length < (long)seqLen + 1)
            throw new ArgumentException($"{Tokens.Name} has {Tokens.Length:N0} tokens, too few for one window of seq_len + 1 = {seqLen + 1:N0}");
    }
}
