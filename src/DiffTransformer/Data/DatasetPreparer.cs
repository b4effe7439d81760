using System.Collections.Concurrent;
using DiffTransformer.IO;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;

namespace DiffTransformer.Data;

/// <summary>
/// Turns a text corpus into a token dataset (<see cref="TokenDataset"/>), streaming: documents are read one file or one
/// line at a time, tokenized in parallel batches and appended in input order, so memory stays bounded by a few batches.
/// </summary>
public static class DatasetPreparer
{
    private const int MaxBatchDocuments = 4096;
    private const long MaxBatchChars = 4 << 20;
    private const ulong ValSalt = 0x76616C5F73706C74UL;   // keeps the val draw apart from other uses of the same seed

    public static PrepareResult Prepare(PrepareOptions options, IProgress<PrepareProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        CheckOptions(options);
        var tokenizer = Tokenizers.Create(options.Tokenizer);
        var where = options.ValWhere is null ? null : ValCondition.Parse(options.ValWhere);
        var files = TextInputs.Resolve(options.Inputs, options.Globs);
        if (where is not null && files.FirstOrDefault(f => !f.IsJsonl) is { } textFile)
            throw new ArgumentException($"--val-where selects documents by a JSONL field, but {textFile.Path} is a text file");
        string outDir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.OutputDirectory));
        if (Path.GetDirectoryName(outDir) is null) throw new ArgumentException($"--out cannot be a root directory: {outDir}");
        var replaced = CheckOutput(outDir, options, files);

        string tmp = DatasetDirectory.CreateStaging(outDir, "prepare");
        try
        {
            var run = new Run(options, tokenizer, where, files, tmp, progress, clock, cancellationToken);
            var (train, val) = run.Execute();
            if (train.Documents + val.Documents == 0)
                throw new InvalidDataException($"no documents found in {string.Join(", ", options.Inputs)}"
                                               + (run.EmptySkipped > 0 ? $" ({run.EmptySkipped} empty documents skipped)" : ""));
            var meta = new DatasetMeta
            {
                Tokenizer = tokenizer.Name,
                VocabSize = tokenizer.VocabSize,
                EotId = tokenizer.EndOfText,
                TokenWidth = Tokenizers.TokenWidth(tokenizer.VocabSize),
                Seed = options.Seed,
                ValFraction = where is null ? options.ValFraction : null,
                ValWhere = where?.ToString(),
                ShardTokens = options.ShardTokens,
                Source = DescribeSource(options, files),
                CreatedUtc = DateTime.UtcNow,
                Train = train,
                Val = val,
            };
            AtomicFile.WriteAllText(Path.Combine(tmp, DatasetMeta.FileName), meta.ToJson() + "\n");
            DatasetDirectory.Commit(tmp, outDir, replaced);
            return new PrepareResult(outDir, meta, run.EmptySkipped, files.Sum(f => f.Length), clock.Elapsed) { Warnings = Warnings(options, where, train, val, run) };
        }
        catch
        {
            AtomicDirectory.TryDelete(tmp);
            throw;
        }
    }

    /// <summary>
    /// What the dataset holds that is probably not what was meant: an empty split (--val-fraction 0 or 1, or a small
    /// input), and input files that are mostly not text (over 10% of their characters are U+FFFD, the decoding of bytes
    /// that are not UTF-8: a binary file given as text).
    /// </summary>
    private static List<string> Warnings(PrepareOptions options, ValCondition? where, SplitMeta train, SplitMeta val, Run run)
    {
        var warnings = new List<string>();
        string rule = where is not null ? $"--val-where {where}" : $"--val-fraction {options.ValFraction.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        foreach (var (name, split) in new[] { ("validation", val), ("train", train) })
            if (split.Documents == 0)
                warnings.Add($"the {name} split is empty: {rule} puts all {train.Documents + val.Documents:N0} documents into the other");
        foreach (var (file, (chars, replacements)) in run.Decoding.OrderBy(d => d.Key, StringComparer.Ordinal))
            if (chars > 0 && replacements > 0.1 * chars)
                warnings.Add($"{file}: {replacements:N0} of its {chars:N0} characters ({(double)replacements / chars:P0}) are not valid UTF-8 text: is it a binary file?");
        return warnings;
    }

    private static void CheckOptions(PrepareOptions o)
    {
        if (o.Inputs.Count == 0) throw new ArgumentException("no inputs given");
        if (!(o.ValFraction >= 0 && o.ValFraction <= 1)) throw new ArgumentException($"--val-fraction must be in [0, 1], got {o.ValFraction}");
        if (o.Threads <= 0) throw new ArgumentException($"--threads must be positive, got {o.Threads}");
        if (o.ShardTokens <= 0) throw new ArgumentException($"shard size must be positive, got {o.ShardTokens} tokens");
        if (string.IsNullOrEmpty(o.Field)) throw new ArgumentException("--field must name a JSONL field");
        if (o.Globs.Count == 0 || o.Globs.Any(string.IsNullOrWhiteSpace)) throw new ArgumentException("--glob patterns must not be empty");
    }

    /// <summary>Refuses an output that is a file, contains an input, or is not a dataset writer's to replace; returns the dataset replaced.</summary>
    private static DatasetMeta? CheckOutput(string outDir, PrepareOptions options, List<TextInputFile> files)
    {
        string prefix = outDir.EndsWith(Path.DirectorySeparatorChar) ? outDir : outDir + Path.DirectorySeparatorChar;
        foreach (var f in files)
            if (Path.GetFullPath(f.Path).StartsWith(prefix, StringComparison.Ordinal))
                throw new IOException($"output directory {outDir} contains the input {f.Path}; choose another --out");
        return DatasetDirectory.CheckTarget(outDir, options.Force, "--force");
    }

    private static string DescribeSource(PrepareOptions options, List<TextInputFile> files)
    {
        var sb = new StringBuilder(string.Join(", ", options.Inputs));
        sb.Append($" ({files.Count} file{(files.Count == 1 ? "" : "s")}");
        if (files.Any(f => f.IsJsonl)) sb.Append($"; JSONL field '{options.Field}'");
        if (options.Inputs.Any(Directory.Exists)) sb.Append($"; folders matched {string.Join(" ", options.Globs)}");
        return sb.Append(')').ToString();
    }

    /// <summary>One document on its way through the pipeline: raw text or JSON line in, tokens out.</summary>
    private sealed class WorkItem
    {
        private string? raw;
        private readonly bool isJson;

        public WorkItem(string file, long line, long index, string raw, bool isJson)
        {
            File = file;
            Line = line;
            Index = index;
            RawLength = raw.Length;
            this.raw = raw;
            this.isJson = isJson;
        }

        public string File { get; }
        public long Line { get; }
        public long Index { get; }
        public int RawLength { get; }
        public int[]? Tokens { get; private set; }
        public bool IsVal { get; private set; }
        public long TextBytes { get; private set; }
        public int Chars { get; private set; }
        public int Replacements { get; private set; }
        public Exception? Error { get; private set; }

        public void Process(ITokenizer tokenizer, string field, ValCondition? where, double valFraction, ulong seed)
        {
            try
            {
                string text = isJson ? ParseJson(field, where) : raw!;
                if (where is null) IsVal = CounterHash.Uniform(seed ^ ValSalt, (ulong)Index) < valFraction;
                TextBytes = Encoding.UTF8.GetByteCount(text);
                Chars = text.Length;
                Replacements = text.AsSpan().Count('\uFFFD');        // what invalid UTF-8 decodes to
                Tokens = text.Length == 0 ? [] : tokenizer.Encode(text);
            }
            catch (InvalidDataException e)
            {
                Error = e;
            }
            raw = null;
        }

        private string ParseJson(string field, ValCondition? where)
        {
            string text = TextInputs.StringField(raw!, field, File, Line, out var doc);
            using (doc)
            {
                if (where is not null) IsVal = where.IsMatch(doc.RootElement, File, Line);
                return text;
            }
        }

        public void Release() => Tokens = null;
    }

    /// <summary>The state of one prepare: a reader task feeding batches to the tokenizing, writing caller thread.</summary>
    private sealed class Run(PrepareOptions options, ITokenizer tokenizer, ValCondition? where, List<TextInputFile> files, string dir,
                             IProgress<PrepareProgress>? progress, Stopwatch clock, CancellationToken cancellationToken)
    {
        private long bytesRead;   // input bytes consumed so far; touched by the reader task only
        private readonly long bytesTotal = files.Sum(f => f.Length);

        public long EmptySkipped { get; private set; }

        /// <summary>Per input file: characters read and how many of them were U+FFFD (bytes that are not UTF-8).</summary>
        public Dictionary<string, (long Chars, long Replacements)> Decoding { get; } = new(StringComparer.Ordinal);

        public (SplitMeta Train, SplitMeta Val) Execute()
        {
            using var train = new SplitWriter(dir, "train", tokenizer, options.ShardTokens);
            using var val = new SplitWriter(dir, "val", tokenizer, options.ShardTokens);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var queue = new BlockingCollection<Batch>(boundedCapacity: 2);
            var reader = Task.Run(() =>
            {
                try
                {
                    foreach (var batch in Batches()) queue.Add(batch, stop.Token);
                }
                finally
                {
                    queue.CompleteAdding();
                }
            });
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.Threads, CancellationToken = cancellationToken };
            try
            {
                foreach (var batch in queue.GetConsumingEnumerable(cancellationToken))
                {
                    Parallel.ForEach(batch.Items, parallel, item => item.Process(tokenizer, options.Field, where, options.ValFraction, (ulong)options.Seed));
                    foreach (var item in batch.Items)   // input order, so output is deterministic
                    {
                        if (item.Error is not null) ExceptionDispatchInfo.Throw(item.Error);
                        var (c, r) = Decoding.GetValueOrDefault(item.File);
                        Decoding[item.File] = (c + item.Chars, r + item.Replacements);
                        if (item.TextBytes == 0)
                        {
                            EmptySkipped++;
                            continue;
                        }
                        (item.IsVal ? val : train).AppendDocument(item.Tokens!, item.TextBytes);
                        item.Release();
                    }
                    progress?.Report(new PrepareProgress(train.Documents + val.Documents, train.Tokens + val.Tokens,
                                                         batch.InputBytesRead, bytesTotal, clock.Elapsed));
                }
            }
            catch
            {
                stop.Cancel();
                try { reader.Wait(); } catch (AggregateException) { }   // the first error wins: it came earlier in the input
                throw;
            }
            reader.GetAwaiter().GetResult();   // a read error after the last complete batch
            return (train.Complete(), val.Complete());
        }

        /// <summary>Documents in input order, with how far into the input the batch's last one ends (for progress).</summary>
        private sealed record Batch(List<WorkItem> Items, long InputBytesRead);

        private IEnumerable<Batch> Batches()
        {
            var items = new List<WorkItem>();
            long chars = 0;
            foreach (var item in Documents())
            {
                items.Add(item);
                chars += item.RawLength;
                if (items.Count >= MaxBatchDocuments || chars >= MaxBatchChars)
                {
                    yield return new Batch(items, bytesRead);
                    items = [];
                    chars = 0;
                }
            }
            yield return new Batch(items, bytesRead);   // possibly empty: still carries the final byte count
        }

        private IEnumerable<WorkItem> Documents()
        {
            long index = 0, done = 0;
            foreach (var file in files)
            {
                using var reader = TextInputs.OpenReader(file, out var fs);
                using var _ = fs;
                if (!file.IsJsonl)
                {
                    string text = TextInputs.ReadAll(reader, file.Path);
                    bytesRead = done + file.Length;
                    yield return new WorkItem(file.Path, 1, index++, text, isJson: false);
                }
                else
                {
                    long line = 0;
                    while (TextInputs.ReadLine(reader, file.Path, line + 1) is { } text)
                    {
                        line++;
                        if (string.IsNullOrWhiteSpace(text)) continue;
                        bytesRead = done + fs.Position;   // compressed bytes for .gz, a little ahead through buffering
                        yield return new WorkItem(file.Path, line, index++, text, isJson: true);
                    }
                }
                done += file.Length;
                bytesRead = done;
            }
        }
    }
}
