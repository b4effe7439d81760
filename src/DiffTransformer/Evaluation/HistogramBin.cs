namespace DiffTransformer.Evaluation;

/// <summary>One bin of a magnitude histogram: the values with <c>Lower ≤ |x| &lt; Upper</c> (the first bin holds everything below its upper edge, zero included).</summary>
public readonly record struct HistogramBin(double Lower, double Upper, long Count);
