using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.Json;

namespace DiffTransformer.Data;

/// <summary>Where a running prepare stands (reported after every batch of documents).</summary>
public sealed record PrepareProgress(long Documents, long Tokens, long InputBytesRead, long InputBytesTotal, TimeSpan Elapsed);
