
namespace DiffTransformer.Tasks.Needle;

/// <summary>One question of a needle cell: the document, the prompt's tokens (context + question), what is asked and the context's text.</summary>
public sealed record NeedlePrompt(int Sample, NeedleDocument Document, int[] Tokens, string Key, string Value, IReadOnlyList<string> OtherValues, string ContextText);
