using System.Text.Json.Serialization;

namespace DiffTransformer.Model;

/// <summary>How the linear layers' weights (<see cref="Projection"/>) are stored.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<WeightFormat>))]
public enum WeightFormat
{
    /// <summary>float32 parameters: training and the default.</summary>
    [JsonStringEnumMemberName("float32")] Float32,
    /// <summary>int8 with one float32 scale per output channel, for inference (<c>difft quantize</c>).</summary>
    [JsonStringEnumMemberName("int8")] Int8,
}
