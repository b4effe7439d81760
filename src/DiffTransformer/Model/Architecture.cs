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
}
