namespace DiffTransformer.Benchmarks;

/// <summary>The row label of each <see cref="ProfilePiece"/>, and the groups of pieces the profile report adds up.</summary>
public static class ProfilePieces
{
    public static string Name(ProfilePiece piece) => piece switch
    {
        ProfilePiece.DiffLayerBlocked => "DIFF, blocked core",
        ProfilePiece.DiffLayerFused => "DIFF, fused core (2 SDPA calls)",
        ProfilePiece.TransformerLayerFused => "Transformer, fused core (SDPA)",
        ProfilePiece.TransformerLayerBlocked => "Transformer, blocked core",
        ProfilePiece.Projection => "one E×E projection (×4 per layer)",
        ProfilePiece.Rotary => "rotary, q and k",
        ProfilePiece.DiffCoreBlocked => "DIFF core, blocked",
        ProfilePiece.DiffCoreSdpa => "DIFF core, 2 SDPA calls + combine",
        ProfilePiece.BaselineCoreSdpa => "baseline core, SDPA",
        ProfilePiece.BaselineCoreBlocked => "baseline core, blocked",
        ProfilePiece.DiffHeadNorm => "DIFF per-head RMSNorm + (1 − λinit)",
        ProfilePiece.SwiGlu => "SwiGLU",
        ProfilePiece.RmsNorm => "RMSNorm (×2 per layer, +1)",
        ProfilePiece.ResidualAdd => "residual add (×2 per layer)",
        ProfilePiece.LmHeadCrossEntropy => "LM head + cross-entropy",
        ProfilePiece.AdamW => "AdamW: clip + update + zero",
        _ => throw new ArgumentOutOfRangeException(nameof(piece), piece, null),
    };

    /// <summary>The piece a row label names, if any.</summary>
    public static ProfilePiece? Of(string name) => ByName.TryGetValue(name, out var piece) ? piece : null;

    /// <summary>Whole attention layers, one per architecture and kernel: the alternatives a step chooses among.</summary>
    public static IReadOnlyList<ProfilePiece> AttentionLayers { get; } =
        [ProfilePiece.DiffLayerBlocked, ProfilePiece.DiffLayerFused, ProfilePiece.TransformerLayerFused, ProfilePiece.TransformerLayerBlocked];

    /// <summary>Everything in a step besides the attention layers.</summary>
    public static IReadOnlyList<ProfilePiece> RestOfStep { get; } =
        [ProfilePiece.SwiGlu, ProfilePiece.RmsNorm, ProfilePiece.ResidualAdd, ProfilePiece.LmHeadCrossEntropy, ProfilePiece.AdamW];

    private static readonly Dictionary<string, ProfilePiece> ByName = Enum.GetValues<ProfilePiece>().ToDictionary(Name);
}
