using System.Text.Json.Serialization;

namespace DiffTransformer.Data;

/// <summary>Counts and shard list of one split.</summary>
public sealed record SplitMeta
{
    public required long Documents { get; init; }

    /// <summary>Tokens including the end-of-text token after each document.</summary>
    public required long Tokens { get; init; }

    /// <summary>UTF-8 bytes of the documents' text (without separators).</summary>
    public required long Bytes { get; init; }

    public required IReadOnlyList<ShardMeta> Shards { get; init; }

    /// <summary>Text bytes per token (EOTs included); 0 for an empty split.</summary>
    [JsonIgnore] public double BytesPerToken => Tokens == 0 ? 0 : (double)Bytes / Tokens;
}
