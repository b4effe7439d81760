namespace DiffTransformer.IO;

/// <summary>A safetensors file that cannot be read as asked; the message names the file and, where one is at fault, the key.</summary>
public sealed class SafeTensorsException(string message) : Exception(message);
