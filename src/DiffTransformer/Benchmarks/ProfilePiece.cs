namespace DiffTransformer.Benchmarks;

/// <summary>The pieces <see cref="StepProfile"/> times; <see cref="ProfilePieces.Name"/> gives each one's row label.</summary>
public enum ProfilePiece
{
    DiffLayerBlocked,
    DiffLayerFused,
    TransformerLayerFused,
    TransformerLayerBlocked,
    Projection,
    Rotary,
    DiffCoreBlocked,
    DiffCoreSdpa,
    BaselineCoreSdpa,
    BaselineCoreBlocked,
    DiffHeadNorm,
    SwiGlu,
    RmsNorm,
    ResidualAdd,
    LmHeadCrossEntropy,
    AdamW,
}
