using System.Text.Json;
using System.Text.Json.Serialization;

namespace DiffTransformer.Evaluation;

/// <summary>Reads and writes a <see cref="NeedleSetting"/> as "N/R" (reports and study plans).</summary>
public sealed class NeedleSettingJsonConverter : JsonConverter<NeedleSetting>
{
    public override NeedleSetting Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException("a needle setting is a string \"N/R\", e.g. \"4/2\"");
        try
        {
            return NeedleSetting.Parse(reader.GetString()!);
        }
        catch (ArgumentException e)
        {
            throw new JsonException(e.Message);
        }
    }

    public override void Write(Utf8JsonWriter writer, NeedleSetting value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
