namespace DiffTransformer.Inference;

/// <summary>A request the server answers with <paramref name="status"/> and a JSON error body of this message and type.</summary>
internal sealed class OpenAiError(int status, string message, string type = "invalid_request_error") : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
}
