using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.Json;

namespace DiffTransformer.Data;

/// <summary>What <see cref="DatasetPreparer.Prepare"/> reads and how it splits and writes it.</summary>
public sealed record PrepareOptions
{
    /// <summary>
    /// Text files (one document each; .gz is decompressed), folders searched recursively for <see cref="Globs"/>, and
    /// JSONL files (*.jsonl, *.jsonl.gz; one document per line, text in <see cref="Field"/>). Read in the order given.
    /// </summary>
    public required IReadOnlyList<string> Inputs { get; init; }

    /// <summary>The dataset directory to create; written as a temp sibling and renamed into place when complete.</summary>
    public required string OutputDirectory { get; init; }

    public string Tokenizer { get; init; } = "byte";

    /// <summary>File-name patterns (* and ?) for files found in folders; case-insensitive.</summary>
    public IReadOnlyList<string> Globs { get; init; } = ["*.txt", "*.md"];

    /// <summary>The JSONL field that holds a document's text.</summary>
    public string Field { get; init; } = "text";

    /// <summary>Probability that a document goes to val (a deterministic draw from the seed and the document's index). Ignored when <see cref="ValWhere"/> is set.</summary>
    public double ValFraction { get; init; } = 0.05;

    /// <summary>Selects val documents by a JSONL field instead, e.g. "year>=2000" (see <see cref="ValCondition"/>).</summary>
    public string? ValWhere { get; init; }

    public long Seed { get; init; } = 1234;

    /// <summary>Tokenizer threads.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Replace a non-empty <see cref="OutputDirectory"/>.</summary>
    public bool Force { get; init; }

    /// <summary>A shard is closed after this many tokens (documents may straddle shards).</summary>
    public long ShardTokens { get; init; } = 100_000_000;
}
