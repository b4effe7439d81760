using System.Diagnostics;
using System.Text.Json;
using DiffTransformer.Data;
using DiffTransformer.IO;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Training;

/// <summary>The loss became NaN or infinite; the message names the step and the last good checkpoint.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
