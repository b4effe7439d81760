using System.Text.Json.Serialization;
using DiffTransformer.IO;

namespace DiffTransformer.Data;

/// <summary>The dataset description, <c>meta.json</c> in the dataset directory (snake_case JSON).</summary>
public sealed record DatasetMeta
{
    public const string FormatName = "difft-tokens";
    public const int CurrentVersion = 1;
    public const string FileName = "meta.json";

    public string Format { get; init; } = FormatName;
    public int FormatVersion { get; init; } = CurrentVersion;
    public required string Tokenizer { get; init; }
    public required int VocabSize { get; init; }
    public required int EotId { get; init; }
    public required int TokenWidth { get; init; }

    /// <summary>Seed of the per-document validation draw (used when <see cref="ValFraction"/> selects).</summary>
    public required long Seed { get; init; }

    /// <summary>Probability of a document going to val; null when <see cref="ValWhere"/> selects instead.</summary>
    public double? ValFraction { get; init; }

    /// <summary>The --val-where expression, e.g. "year>=2000"; null when <see cref="ValFraction"/> selects.</summary>
    public string? ValWhere { get; init; }

    /// <summary>Shards are cut after this many tokens.</summary>
    public required long ShardTokens { get; init; }

    /// <summary>Human-readable description of the inputs.</summary>
    public required string Source { get; init; }

    public required DateTime CreatedUtc { get; init; }
    public required SplitMeta Train { get; init; }
    public required SplitMeta Val { get; init; }

    /// <summary>
    /// Files the dataset's writer put beside the shards (e.g. a generated task's description), by name; they belong
    /// to the dataset and are replaced with it. Absent from meta.json when there are none.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? ExtraFiles { get; init; }

    public string ToJson() => Json.Serialize(this);

    /// <summary>Parses meta.json; <paramref name="source"/> names the file in error messages.</summary>
    public static DatasetMeta FromJson(string json, string source)
    {
        var meta = Json.Parse<DatasetMeta>(json, source) ?? throw new InvalidDataException($"{source}: empty dataset description");
        if (meta.Format != FormatName) throw new InvalidDataException($"{source}: format is '{meta.Format}', expected '{FormatName}'");
        if (meta.FormatVersion != CurrentVersion)
            throw new InvalidDataException($"{source}: unknown format_version {meta.FormatVersion}; this build reads version {CurrentVersion}");
        return meta;
    }
}
