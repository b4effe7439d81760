using System.CommandLine;
using DiffTransformer.IO;
using DiffTransformer.Model;

namespace DiffTransformer.Cli.Common;

/// <summary>Wrong combination of options; reported without a stack trace.</summary>
public sealed class UsageException(string message) : Exception(message);
