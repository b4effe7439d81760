namespace DiffTransformer.Tasks.Needle;

/// <summary>
/// One question of <c>eval faithfulness</c>: the needle prompt (<see cref="NeedlePrompt.Value"/> is what the context states
/// for the asked key, null when it states nothing) and the asked fact's memorised value (null for an ordinary key).
/// </summary>
public sealed record FactPrompt(FactProbe Probe, NeedlePrompt Prompt, string? ContextValue, string? MemorisedValue);
