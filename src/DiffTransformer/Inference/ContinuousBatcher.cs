using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using static TorchSharp.torch;

namespace DiffTransformer.Inference;

/// <summary>
/// Continuous batching over one model: every generation submitted (<see cref="Stream"/>) is decoded together with the
/// others in flight, one token each per step (<see cref="Model.LanguageModel.DecodeBatch"/> over a
/// <see cref="Model.BatchKvCache"/>: one slot per sequence, every operation on the whole batch). A new generation joins
/// at the next token boundary (its prompt is prefilled alone, then copied into a slot); a finished or abandoned one
/// leaves at once. At most
/// <see cref="MaxBatchSize"/> sequences decode together; up to <see cref="MaxWaiting"/> more wait their turn, beyond that
/// a submission is refused (<see cref="GenerationRefusedException"/>).
/// <para>
/// Each sequence has its own sampler and stop rules, so it produces what <see cref="TextGenerator.Stream"/> gives
/// alone with the same options and seed, up to the float rounding of batched matrix products (logits within 1e-5 of
/// their largest magnitude; greedy and seeded tokens are the same unless two candidates are that close).
/// </para>
/// One background thread drives the model; <see cref="StopAsync"/> lets open generations run on for a grace period
/// and then ends each with a final chunk (<see cref="FinishReason.Interrupted"/>).
/// </summary>
public sealed class ContinuousBatcher : IDisposable
{
    private readonly TextGenerator generator;
    private readonly object gate = new();
    private readonly Queue<Sequence> waiting = new();
    private readonly List<Sequence> active = [];
    private readonly Thread loop;
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool stopping;
    private Exception? failure;
    private DateTime? deadline;
    private long steps;
    private long rowSteps;
    private int largestBatch;

    /// <param name="generator">the model and tokenizer (not owned).</param>
    /// <param name="maxBatchSize">sequences decoded together at most.</param>
    /// <param name="maxWaiting">submissions that may wait for a place in the batch.</param>
    public ContinuousBatcher(TextGenerator generator, int maxBatchSize = 16, int maxWaiting = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxWaiting);
        this.generator = generator;
        MaxBatchSize = maxBatchSize;
        MaxWaiting = maxWaiting;
        loop = new Thread(Run) { IsBackground = true, Name = "difft batcher" };
        loop.Start();
    }

    public TextGenerator Generator => generator;
    public int MaxBatchSize { get; }
    public int MaxWaiting { get; }

    /// <summary>Batched decode steps run so far, rows decoded by them, and the largest batch one step held.</summary>
    public (long Steps, long Rows, int LargestBatch) Statistics
    {
        get { lock (gate) return (steps, rowSteps, largestBatch); }
    }

    /// <summary>
    /// Queues a generation and returns its chunks as the batch produces them; the last carries the result. The prompt
    /// and options are checked here (a bad one throws at the call); cancelling <paramref name="cancellationToken"/> or
    /// leaving the enumeration early takes the sequence out of the batch at the next token boundary.
    /// </summary>
    public IAsyncEnumerable<GenerationChunk> Stream(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        options = (options ?? new GenerationOptions()).Validate();
        var ids = generator.PreparePrompt(prompt, options, out int truncated);
        var s = new Sequence(ids, truncated, options);
        lock (gate)
        {
            if (failure is not null) throw new GenerationRefusedException($"the batch loop has failed ({failure.GetType().Name}); restart the server", stopping: true);
            if (stopping) throw new GenerationRefusedException("the server is stopping", stopping: true);
            if (waiting.Count >= MaxWaiting + Math.Max(0, MaxBatchSize - active.Count))
                throw new GenerationRefusedException($"the server is busy ({MaxBatchSize} generations running, {waiting.Count} waiting); try again later", stopping: false);
            waiting.Enqueue(s);
            Monitor.Pulse(gate);
        }
        return Read(s, cancellationToken);
    }

    private async IAsyncEnumerable<GenerationChunk> Read(Sequence s, [EnumeratorCancellation] CancellationToken ct)
    {
        using var registration = ct.Register(s.Abandon);
        try
        {
            var reader = s.Chunks.Reader;
            while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
                while (reader.TryRead(out var chunk)) yield return chunk;
        }
        finally
        {
            s.Abandon();   // a no-op once it has finished
            Wake();
        }
    }

    private void Wake()
    {
        lock (gate) Monitor.Pulse(gate);
    }

    /// <summary>
    /// Refuses new generations; the open ones (running and waiting) run on for <paramref name="grace"/>, then each
    /// still open ends with its text so far and <see cref="FinishReason.Interrupted"/>. Completes when the last has ended.
    /// </summary>
    public Task StopAsync(TimeSpan grace)
    {
        lock (gate)
        {
            if (!stopping)
            {
                stopping = true;
                deadline = DateTime.UtcNow + (grace < TimeSpan.Zero ? TimeSpan.Zero : grace);
            }
            Monitor.Pulse(gate);
        }
        return stopped.Task;
    }

    private void Run()
    {
        Model.BatchKvCache? batch = null;
        try
        {
            batch = generator.Model.CreateBatchCache();   // slot i holds active[i]'s keys and values
            while (true)
            {
                List<Sequence> joining = [];
                bool interrupt;
                lock (gate)
                {
                    while (waiting.Count == 0 && active.Count == 0 && !stopping) Monitor.Wait(gate);
                    if (stopping && waiting.Count == 0 && active.Count == 0) break;
                    interrupt = deadline is { } d && DateTime.UtcNow >= d;
                    while (waiting.Count > 0 && (interrupt || active.Count + joining.Count < MaxBatchSize)) joining.Add(waiting.Dequeue());
                }
                if (interrupt)
                {
                    foreach (var s in joining.Concat(active)) s.Finish(s.State?.Interrupt() ?? s.InterruptUnstarted(generator));
                }
                else
                {
                    foreach (var s in joining) Join(s, batch);
                    Prune(batch);
                    if (active.Count > 0) Step(batch);
                }
                Prune(batch);
            }
        }
        catch (Exception e)
        {
            // not expected (each sequence's failures are its own); whatever is open learns of it, and since no thread
            // drives the model any more, later submissions are refused rather than left waiting for ever
            lock (gate)
            {
                failure = e;
                foreach (var s in waiting.Concat(active)) s.Fail(e);
                waiting.Clear();
            }
        }
        finally
        {
            batch?.Dispose();
            stopped.TrySetResult();
        }
    }

    /// <summary>Prefills a newcomer alone and, unless its first token ends it, moves it into the batch's next slot.</summary>
    private void Join(Sequence s, Model.BatchKvCache batch)
    {
        if (s.Abandoned) { s.Fail(new OperationCanceledException("the generation was abandoned")); return; }
        try
        {
            s.State = new GenerationState(generator, s.Prompt, s.Truncated, s.Options);
            var chunk = s.State.Prefill();
            if (s.State.Finished)
            {
                s.Finish(chunk);
                return;
            }
            s.Chunks.Writer.TryWrite(chunk);
            batch.Add(s.State.Cache);
            s.State.Cache.Dispose();   // its positions live in the batch now
            lock (gate) active.Add(s);
        }
        catch (Exception e)
        {
            s.Fail(e);
        }
    }

    /// <summary>Takes finished and abandoned sequences out of the batch (the last slot moves into a freed one, in both lists).</summary>
    private void Prune(Model.BatchKvCache batch)
    {
        for (int i = active.Count - 1; i >= 0; i--)
        {
            var s = active[i];
            if (s.Abandoned) s.Fail(new OperationCanceledException("the generation was abandoned"));
            if (!s.Done) continue;
            int moved = batch.RemoveAt(i);
            lock (gate)
            {
                if (moved >= 0) active[i] = active[moved];
                active.RemoveAt(active.Count - 1);
            }
        }
    }

    /// <summary>One token for every sequence in the batch.</summary>
    private void Step(Model.BatchKvCache batch)
    {
        var rows = active;
        var watch = Stopwatch.StartNew();
        try
        {
            using (no_grad())
            using (NewDisposeScope())
            {
                var tokens = tensor(rows.Select(s => (long)s.State!.Next).ToArray(), dtype: ScalarType.Int64).view(rows.Count, 1); // (B, 1)
                var logits = generator.Model.DecodeBatch(tokens, batch);                                                          // (B, V)
                var elapsed = watch.Elapsed;
                for (int i = 0; i < rows.Count; i++)
                {
                    var chunk = rows[i].State!.Step(logits[i], elapsed);
                    if (rows[i].State!.Finished) rows[i].Finish(chunk);
                    else rows[i].Chunks.Writer.TryWrite(chunk);
                }
            }
        }
        catch (Exception e)
        {
            foreach (var s in rows) s.Fail(e);   // the step failed part-way: these sequences cannot go on
        }
        lock (gate)
        {
            steps++;
            rowSteps += rows.Count;
            largestBatch = Math.Max(largestBatch, rows.Count);
        }
    }

    public void Dispose()
    {
        StopAsync(TimeSpan.Zero).Wait(TimeSpan.FromSeconds(30));
    }

    /// <summary>One submitted generation and the channel its chunks go out on.</summary>
    private sealed class Sequence(int[] prompt, int truncated, GenerationOptions options)
    {
        private volatile bool abandoned;

        public int[] Prompt { get; } = prompt;
        public int Truncated { get; } = truncated;
        public GenerationOptions Options { get; } = options;
        public Channel<GenerationChunk> Chunks { get; } = Channel.CreateUnbounded<GenerationChunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        public GenerationState? State { get; set; }
        public bool Abandoned => abandoned;
        public bool Done { get; private set; }

        public void Abandon() => abandoned = true;

        /// <summary>The final chunk of a sequence that was never prefilled (interrupted while waiting).</summary>
        public GenerationChunk InterruptUnstarted(TextGenerator generator)
        {
            State = new GenerationState(generator, Prompt, Truncated, Options);
            return State.Interrupt();
        }

        public void Finish(GenerationChunk last)
        {
            if (Done) return;
            Chunks.Writer.TryWrite(last);
            Close(null);
        }

        public void Fail(Exception e) => Close(e);

        private void Close(Exception? e)
        {
            if (Done) return;
            Done = true;
            Chunks.Writer.TryComplete(e);
            State?.Dispose();
        }
    }
}
