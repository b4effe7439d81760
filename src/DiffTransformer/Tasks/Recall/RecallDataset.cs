using DiffTransformer.Data;
using DiffTransformer.IO;

namespace DiffTransformer.Tasks.Recall;

/// <summary>
/// Writes the recall task (<see cref="RecallTaskGenerator"/>) as an ordinary token dataset that
/// <see cref="TokenDataset.Open"/> reads: byte tokenizer, end-of-text after every document, meta.json, plus
/// recall_task.json. Train documents come from <see cref="RecallStream.Train"/>; the val split holds held-out documents
/// (<see cref="RecallStream.Heldout"/>), which are also the evaluation examples (<see cref="ReadEvalExamples(TokenDataset, int)"/>).
/// </summary>
public static class RecallDataset
{
    /// <summary>The tokenizer of every synthetic dataset: the task is byte-level ASCII.</summary>
    public const string TokenizerName = "byte";

    /// <summary>Shards are cut after this many tokens (as <see cref="PrepareOptions.ShardTokens"/>).</summary>
    public const long DefaultShardTokens = 100_000_000;

    private const int ChunkDocuments = 4096;

    /// <summary>
    /// Generates <paramref name="trainDocs"/> training and <paramref name="valDocs"/> held-out documents into the dataset
    /// directory <paramref name="dir"/>, written as a temp sibling and renamed into place when complete. A non-empty
    /// <paramref name="dir"/> is refused unless <paramref name="force"/>. Returns the description written to meta.json.
    /// </summary>
    public static DatasetMeta Write(string dir, RecallTaskOptions options, long trainDocs, long valDocs, long seed, bool force = false, long shardTokens = DefaultShardTokens)
    {
        ArgumentNullException.ThrowIfNull(dir);
        var generator = new RecallTaskGenerator(options, seed);
        if (trainDocs < 1) throw new ArgumentException($"train documents must be at least 1, got {trainDocs}");
        if (valDocs < 1) throw new ArgumentException($"val documents must be at least 1, got {valDocs}");
        if (shardTokens < 1) throw new ArgumentException($"shard size must be positive, got {shardTokens} tokens");
        var tokenizer = Tokenizers.Create(TokenizerName);

        string outDir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        string parent = Path.GetDirectoryName(outDir) ?? throw new ArgumentException($"the dataset directory cannot be a root directory: {outDir}");
        if (File.Exists(outDir)) throw new IOException($"dataset path exists and is a file: {outDir}");
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !force)
            throw new IOException($"dataset directory is not empty: {outDir} (pass force to replace it)");

        Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $".{Path.GetFileName(outDir)}.synthetic-{Environment.ProcessId}-{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(tmp);
        try
        {
            var train = WriteSplit(tmp, "train", generator, RecallStream.Train, trainDocs, tokenizer, shardTokens);
            var val = WriteSplit(tmp, "val", generator, RecallStream.Heldout, valDocs, tokenizer, shardTokens);
            var meta = new DatasetMeta
            {
                Tokenizer = tokenizer.Name,
                VocabSize = tokenizer.VocabSize,
                EotId = tokenizer.EndOfText,
                TokenWidth = Tokenizers.TokenWidth(tokenizer.VocabSize),
                Seed = seed,
                ShardTokens = shardTokens,
                Source = Describe(options, seed),
                CreatedUtc = DateTime.UtcNow,
                Train = train,
                Val = val,
            };
            var task = new RecallTaskFile { Seed = seed, TrainDocuments = trainDocs, ValDocuments = valDocs, Options = options };
            Json.Write(Path.Combine(tmp, RecallTaskFile.FileName), task);
            AtomicFile.WriteAllText(Path.Combine(tmp, DatasetMeta.FileName), meta.ToJson() + "\n");
            MoveIntoPlace(tmp, outDir);
            return meta;
        }
        catch
        {
            TryDeleteDirectory(tmp);
            throw;
        }
    }

    /// <summary>meta.json's <c>source</c> for a synthetic dataset.</summary>
    public static string Describe(RecallTaskOptions options, long seed) =>
        $"synthetic key→value recall (difft built-in task, generator v{RecallTaskFile.CurrentGeneratorVersion}, seed {seed}): {options.Describe()}";

    /// <summary>Reads recall_task.json of a synthetic dataset directory; null when the directory has none (a prepared corpus).</summary>
    public static RecallTaskFile? ReadTask(string dir)
    {
        string path = Path.Combine(dir, RecallTaskFile.FileName);
        if (!File.Exists(path)) return null;
        var task = Json.Parse<RecallTaskFile>(File.ReadAllText(path), path) ?? throw new InvalidDataException($"{path}: empty task description");
        if (task.Task != RecallTaskFile.TaskName) throw new InvalidDataException($"{path}: task is '{task.Task}', expected '{RecallTaskFile.TaskName}'");
        return task;
    }

    /// <summary>
    /// The first <paramref name="maxExamples"/> documents of the val split as evaluation examples: decoded at each
    /// end-of-text and parsed (<see cref="RecallExample.Parse"/>). These are held-out documents, never trained on.
    /// </summary>
    public static IReadOnlyList<RecallExample> ReadEvalExamples(TokenDataset dataset, int maxExamples = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentOutOfRangeException.ThrowIfNegative(maxExamples);
        var tokenizer = dataset.CreateTokenizer();
        var split = dataset.Val;
        var examples = new List<RecallExample>();
        var buffer = new int[1 << 16];
        var document = new List<int>();
        for (long pos = 0; pos < split.Length && examples.Count < maxExamples; pos += buffer.Length)
        {
            int n = (int)Math.Min(buffer.Length, split.Length - pos);
            split.CopyTo(pos, buffer.AsSpan(0, n));
            for (int i = 0; i < n && examples.Count < maxExamples; i++)
            {
                if (buffer[i] != tokenizer.EndOfText)
                {
                    document.Add(buffer[i]);
                    continue;
                }
                string text = tokenizer.Decode(document.ToArray());
                try
                {
                    examples.Add(RecallExample.Parse(text));
                }
                catch (FormatException e)
                {
                    throw new InvalidDataException($"{dataset.Directory}: val document {examples.Count} is not a recall document: {e.Message}");
                }
                document.Clear();
            }
        }
        return examples;
    }

    /// <inheritdoc cref="ReadEvalExamples(TokenDataset, int)"/>
    public static IReadOnlyList<RecallExample> ReadEvalExamples(string dir, int maxExamples = int.MaxValue)
    {
        using var dataset = TokenDataset.Open(dir);
        return ReadEvalExamples(dataset, maxExamples);
    }

    private static SplitMeta WriteSplit(string dir, string split, RecallTaskGenerator generator, RecallStream stream, long documents, ITokenizer tokenizer, long shardTokens)
    {
        var shards = new List<ShardMeta>();
        TokenShardWriter? current = null;
        long tokens = 0, bytes = 0;
        try
        {
            var chunk = new int[ChunkDocuments][];
            for (long start = 0; start < documents; start += ChunkDocuments)
            {
                int count = (int)Math.Min(ChunkDocuments, documents - start);
                // Document i depends only on (seed, stream, i), so the parallel draw is the same as a serial one.
                Parallel.For(0, count, i => chunk[i] = Encode(generator.Generate(start + i, stream).Text, tokenizer));
                for (int i = 0; i < count; i++)
                {
                    Append(chunk[i]);
                    Append([tokenizer.EndOfText]);
                    bytes += chunk[i].Length;   // ASCII: one byte per token
                }
            }
            CloseShard();
        }
        finally
        {
            current?.Dispose();
        }
        return new SplitMeta { Documents = documents, Tokens = tokens, Bytes = bytes, Shards = [.. shards] };

        void Append(ReadOnlySpan<int> ids)
        {
            while (!ids.IsEmpty)
            {
                current ??= new TokenShardWriter(Path.Combine(dir, $"{split}_{shards.Count:D5}.bin"), tokenizer.Name, tokenizer.VocabSize, tokenizer.EndOfText);
                int n = (int)Math.Min(ids.Length, shardTokens - current.Length);
                current.Write(ids[..n]);
                ids = ids[n..];
                tokens += n;
                if (current.Length == shardTokens) CloseShard();
            }
        }

        void CloseShard()
        {
            if (current is null) return;
            current.Complete();
            shards.Add(new ShardMeta { File = Path.GetFileName(current.Path), Tokens = current.Length });
            current = null;
        }
    }

    private static int[] Encode(string text, ITokenizer tokenizer)
    {
        var ids = tokenizer.Encode(text);
        // The generator writes ASCII only; a mismatch here would shift every span of the document.
        if (ids.Length != text.Length) throw new InvalidOperationException($"recall document is not one byte per character: \"{text}\"");
        return ids;
    }

    private static void MoveIntoPlace(string tmp, string outDir)
    {
        if (Directory.Exists(outDir))
        {
            // Swap the old directory out first, so that a failure leaves either the old or the new dataset.
            string old = Path.Combine(Path.GetDirectoryName(outDir)!, $".{Path.GetFileName(outDir)}.old-{Guid.NewGuid():N}");
            Directory.Move(outDir, old);
            try
            {
                Directory.Move(tmp, outDir);
            }
            catch
            {
                Directory.Move(old, outDir);
                throw;
            }
            TryDeleteDirectory(old);
            return;
        }
        Directory.Move(tmp, outDir);
    }

    private static void TryDeleteDirectory(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
