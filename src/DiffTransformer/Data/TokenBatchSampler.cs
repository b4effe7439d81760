namespace DiffTransformer.Data;

/// <summary>
/// Training windows over a token sequence, stateless in the batch index: row r of batch b starts at a position
/// drawn by <see cref="CounterHash"/> from (seed, b, r), uniformly over [0, Length − seqLen − 1] — or, given window
/// starts (<see cref="DocumentStarts"/>), uniformly among those. Resuming training exactly therefore needs only the
/// batch index. Thread-safe; no TorchSharp (the trainer converts).
/// </summary>
public sealed class TokenBatchSampler
{
    private readonly ulong seed;

    private readonly long[]? starts;
    private readonly int startsSeqLen;

    public TokenBatchSampler(ITokenSequence tokens, long seed)
    {
        Tokens = tokens;
        Seed = seed;
        this.seed = (ulong)seed;
    }

    /// <summary>
    /// A sampler whose windows start only at <paramref name="windowStarts"/> (ascending positions, each leaving room for
    /// a window of <paramref name="seqLen"/> + 1 tokens, as <see cref="DocumentStarts"/> gives them).
    /// </summary>
    public TokenBatchSampler(ITokenSequence tokens, long seed, long[] windowStarts, int seqLen) : this(tokens, seed)
    {
        CheckLength(seqLen);
        if (windowStarts.Length == 0) throw new ArgumentException($"{tokens.Name}: no window starts to draw from");
        for (int i = 0; i < windowStarts.Length; i++)
            if (windowStarts[i] < 0 || windowStarts[i] > tokens.Length - seqLen - 1 || (i > 0 && windowStarts[i] <= windowStarts[i - 1]))
                throw new ArgumentException($"{tokens.Name}: window start {windowStarts[i]} (index {i}) is not ascending within [0, {tokens.Length - seqLen - 1}] for seq_len {seqLen}");
        (starts, startsSeqLen) = (windowStarts, seqLen);
    }

    public ITokenSequence Tokens { get; }
    public long Seed { get; }

    /// <summary>How many positions a window may start at (null: any, <see cref="WindowSampling.Uniform"/>).</summary>
    public long? WindowStartCount => starts?.LongLength;

    /// <summary>
    /// The positions of <paramref name="endOfText"/> in <paramref name="tokens"/> that leave room for a window of
    /// <paramref name="seqLen"/> + 1 tokens: the window starts of <see cref="WindowSampling.Documents"/>, each holding
    /// the end-of-text and then a document from its first token, as evaluation prompts begin. (The first document,
    /// which no end-of-text precedes, is never a window's start.) One pass over the tokens; 8 bytes per document.
    /// </summary>
    public static long[] DocumentStarts(ITokenSequence tokens, int endOfText, int seqLen)
    {
        var found = new List<long>();
        var buffer = new int[1 << 16];
        long last = tokens.Length - seqLen - 1;
        for (long p = 0; p <= last; p += buffer.Length)
        {
            int n = (int)Math.Min(buffer.Length, last + 1 - p);
            tokens.CopyTo(p, buffer.AsSpan(0, n));
            for (int i = 0; i < n; i++)
                if (buffer[i] == endOfText) found.Add(p + i);
        }
        if (found.Count == 0)
            throw new ArgumentException($"{tokens.Name} has no document boundary (end-of-text token {endOfText}) that leaves room for a window of seq_len + 1 = {seqLen + 1} tokens; " +
                                        "sample windows uniformly instead");
        return [.. found];
    }

    /// <summary>Start offset of row <paramref name="row"/> of batch <paramref name="batchIndex"/>; the window is [start, start + seqLen + 1).</summary>
    public long WindowStart(long batchIndex, int row, int seqLen)
    {
        CheckLength(seqLen);
        if (starts is null) return CounterHash.Below(Tokens.Length - seqLen, seed, (ulong)batchIndex, (ulong)row);
        if (seqLen > startsSeqLen) throw new ArgumentException($"windows of seq_len {seqLen} asked of starts chosen for seq_len {startsSeqLen}");
        return starts[CounterHash.Below(starts.LongLength, seed, (ulong)batchIndex, (ulong)row)];
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
        if (starts is not null) disjointWindows = Math.Min(disjointWindows, starts.LongLength);
        return (int)Math.Clamp(disjointWindows / batchSize, 1, maxBatches);
    }

    /// <summary>
    /// A fixed evaluation set: <see cref="EvalBatchCount"/> full batches whose windows are evenly spaced from the
    /// first to the last valid start — with window starts (<see cref="DocumentStarts"/>), evenly spaced among those, so
    /// that validation sees windows as training does. The same for every call, independent of the seed.
    /// </summary>
    public IEnumerable<(long[] Inputs, long[] Targets)> EvalBatches(int batchSize, int seqLen, int maxBatches)
    {
        int batches = EvalBatchCount(batchSize, seqLen, maxBatches);
        return Iterate();

        IEnumerable<(long[] Inputs, long[] Targets)> Iterate()
        {
            var allowed = this.starts;
            long last = allowed is null ? Tokens.Length - seqLen - 1 : allowed.LongLength - 1;   // the last start, or its index
            long windows = (long)batches * batchSize;
            for (int b = 0; b < batches; b++)
            {
                var rows = new long[batchSize];
                for (int r = 0; r < batchSize; r++)
                {
                    long i = (long)b * batchSize + r;
                    long at = windows == 1 ? 0 : (long)((Int128)i * last / (windows - 1));
                    rows[r] = allowed is null ? at : allowed[at];
                }
                yield return Gather(rows, seqLen);
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
