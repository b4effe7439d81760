namespace DiffTransformer.Tasks.Icl;

/// <summary>One labelled example: its kept text, its class (an index into <see cref="IclExampleSet.Classes"/>) and its split.</summary>
public sealed record IclExample(string Text, int Class, bool Test);
