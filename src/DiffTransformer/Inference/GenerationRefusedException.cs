namespace DiffTransformer.Inference;

/// <summary>A <see cref="ContinuousBatcher"/> did not take a generation: it is stopping, or its queue is full (<see cref="Stopping"/> false).</summary>
public sealed class GenerationRefusedException(string message, bool stopping) : InvalidOperationException(message)
{
    /// <summary>True when refused because the batcher is stopping; false when it was busy (worth a retry).</summary>
    public bool Stopping { get; } = stopping;
}
