namespace DiffTransformer.Data;

/// <summary>One document of a text corpus and where it came from ("file" or "file:line" for JSONL).</summary>
public sealed record TextDocument(string Source, string Text);
