using System.Text.Json.Serialization;

namespace DiffTransformer.Model;

/// <summary>Which attention the decoder uses; everything else is shared.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Architecture>))]
public enum Architecture
{
    /// <summary>Differential attention: H heads, each the difference of two softmax maps.</summary>
    [JsonStringEnumMemberName("diff")] Diff,
    /// <summary>The parameter-matched baseline: 2H ordinary heads of width d.</summary>
    [JsonStringEnumMemberName("transformer")] Transformer,
    /// <summary>
    /// DIFF V2 (<see cref="DifferentialAttentionV2"/>): 2H query heads of width d on the ordinary attention, paired as
    /// A₂ᵢ − σ(λᵢ(x))·A₂ᵢ₊₁; its SwiGLU is widened to match the baseline's parameters (<see cref="ModelConfig.FfnHidden"/>).
    /// </summary>
    [JsonStringEnumMemberName("diff2")] Diff2,
}
