namespace DiffTransformer.Tasks.Recall;

/// <summary>One key→value pair of a document's context, with the character spans of its key and value.</summary>
public sealed record RecallPair(string Key, string Value, IndexSpan KeySpan, IndexSpan ValueSpan)
{
    /// <summary>The whole "key=value" item.</summary>
    public IndexSpan Span => new(KeySpan.Start, ValueSpan.End - KeySpan.Start);
}
