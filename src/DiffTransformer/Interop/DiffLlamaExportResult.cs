using DiffTransformer.Model;

namespace DiffTransformer.Interop;

/// <summary>
/// What <see cref="DiffLlamaExport.Export"/> wrote: the model's configuration, the files (config.json first, then the
/// weights file or the shards and their index, then tokenizer.json when written), the bytes of tensor data, and notes
/// for the user (what was not written, and why).
/// </summary>
public sealed record DiffLlamaExportResult(ModelConfig Config, IReadOnlyList<string> Files, long TensorBytes, IReadOnlyList<string> Notes);
