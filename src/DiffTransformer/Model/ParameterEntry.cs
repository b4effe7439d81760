namespace DiffTransformer.Model;

/// <summary>One entry of the model's state dict, derived from the configuration alone.</summary>
public sealed record ParameterEntry(string Key, long[] Shape)
{
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);
}
