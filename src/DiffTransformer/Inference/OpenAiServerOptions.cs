namespace DiffTransformer.Inference;

/// <summary>
/// Where <see cref="OpenAiServer"/> listens and the limits that keep one client from holding up the others. The
/// defaults suit a server on a developer's machine; tests shorten the timeouts.
/// </summary>
public sealed record OpenAiServerOptions
{
    /// <summary>TCP port on 127.0.0.1; 0 picks a free one (see <see cref="OpenAiServer.Address"/> after the start).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>Largest accepted request body; a larger one gets 413.</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;

    /// <summary>The request line and headers must arrive within this (Kestrel closes the connection otherwise).</summary>
    public TimeSpan HeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The whole body must arrive within this after the headers; otherwise 408.</summary>
    public TimeSpan BodyTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Slowest accepted transfer, in bytes per second, of a request body and of a response the client reads, after
    /// <see cref="DataRateGrace"/>: a client below it is cut off (408 for a body).
    /// </summary>
    public double MinBytesPerSecond { get; init; } = 240;

    /// <summary>How long a transfer may stay below <see cref="MinBytesPerSecond"/> before the limit applies (at least 1 s).</summary>
    public TimeSpan DataRateGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>An idle keep-alive connection is closed after this.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Open TCP connections at most; further ones are refused by Kestrel.</summary>
    public int MaxConnections { get; init; } = 128;

    /// <summary>Sequences decoded together in one batch at most; further requests wait for a place.</summary>
    public int MaxBatchSize { get; init; } = 16;

    /// <summary>Requests that may wait for a place in the batch; beyond this a request gets 503 at once.</summary>
    public int MaxWaiting { get; init; } = 64;

    /// <summary>
    /// On <see cref="OpenAiServer.Stop"/>, open generations may run on for this long; then each ends with a final
    /// chunk (finish reason "length") and the streams close with <c>[DONE]</c>.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Throws <see cref="ArgumentException"/> naming the value at fault.</summary>
    public OpenAiServerOptions Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"port must be in 0–65535, got {Port}");
        if (MaxBodyBytes < 1) throw new ArgumentException($"the body limit must be ≥ 1 byte, got {MaxBodyBytes}");
        foreach (var (name, value) in new[] { ("headers timeout", HeadersTimeout), ("body timeout", BodyTimeout), ("keep-alive timeout", KeepAliveTimeout) })
            if (value <= TimeSpan.Zero) throw new ArgumentException($"the {name} must be positive, got {value}");
        if (DataRateGrace < TimeSpan.FromSeconds(1)) throw new ArgumentException($"the data-rate grace must be ≥ 1 s, got {DataRateGrace}");
        if (!(MinBytesPerSecond >= 0) || double.IsInfinity(MinBytesPerSecond)) throw new ArgumentException($"the minimum data rate must be a finite number ≥ 0, got {MinBytesPerSecond}");
        if (MaxConnections < 1) throw new ArgumentException($"at least one connection must be allowed, got {MaxConnections}");
        if (MaxBatchSize < 1) throw new ArgumentException($"the batch must hold at least one sequence, got {MaxBatchSize}");
        if (MaxWaiting < 0) throw new ArgumentException($"the waiting limit must be ≥ 0, got {MaxWaiting}");
        if (ShutdownTimeout < TimeSpan.Zero) throw new ArgumentException($"the shutdown timeout must be ≥ 0, got {ShutdownTimeout}");
        return this;
    }
}
