namespace DiffTransformer.Data;

/// <summary>One shard file of a split, as listed in meta.json.</summary>
public sealed record ShardMeta
{
    /// <summary>File name inside the dataset directory, e.g. "train_00000.bin".</summary>
    public required string File { get; init; }

    public required long Tokens { get; init; }
}
