namespace DiffTransformer.Model;

/// <summary>A configuration that is not internally consistent; the message names the field(s) and value(s).</summary>
public sealed class ConfigException(string message) : Exception(message);
