namespace DiffTransformer.Data;

/// <summary>Where the training windows of <see cref="TokenBatchSampler"/> start.</summary>
public enum WindowSampling
{
    /// <summary>At any token, uniformly: language modelling on a stream, where a document may be cut anywhere.</summary>
    Uniform,

    /// <summary>
    /// At a document boundary (an end-of-text token, uniformly among them): a window holds a document from its start.
    /// The needle tasks need it — with uniform windows a window shorter than twice a document loses the needle of most
    /// of the answers it holds (docs/results/needle-defaults/).
    /// </summary>
    Documents,
}
