namespace DiffTransformer.Benchmarks;

/// <summary>One client count: per round the aggregate rate and mean batch, and every request's timings (all rounds pooled).</summary>
public sealed record ServeMeasurement(int Clients)
{
    /// <summary>Completion tokens of all clients over the wall time from the first request's start to the last one's end, per round.</summary>
    public List<double> AggregateTokensPerSecond { get; } = [];

    /// <summary>Rows per batched decode step during the measurement, per round.</summary>
    public List<double> MeanBatch { get; } = [];

    /// <summary>Per request: time to the first text, ms.</summary>
    public List<double> FirstTokenMs { get; } = [];

    /// <summary>Per request: time to the end of the stream, s.</summary>
    public List<double> LatencySeconds { get; } = [];

    /// <summary>Per request: completion tokens over its latency.</summary>
    public List<double> StreamTokensPerSecond { get; } = [];

    /// <summary>Per request of more than one token: ms from the first text to the end of the stream per token after the first.</summary>
    public List<double> PerTokenMs { get; } = [];

    public int Requests => LatencySeconds.Count;

    public long Tokens { get; set; }

    public double Median => Stats.Median(AggregateTokensPerSecond);
}
