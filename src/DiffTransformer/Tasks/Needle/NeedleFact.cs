namespace DiffTransformer.Tasks.Needle;

/// <summary>
/// A fixed fact of the facts task: "the magic number of <see cref="Key"/> is <see cref="Value"/>" holds in every training
/// document that asks it without stating it, so a model can only answer it from memory (its weights).
/// </summary>
public sealed record NeedleFact(string Key, string Value);
