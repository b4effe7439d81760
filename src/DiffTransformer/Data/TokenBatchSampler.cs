namespace DiffTransformer.Data;

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
