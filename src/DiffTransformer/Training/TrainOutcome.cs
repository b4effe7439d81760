using System.Diagnostics;
using System.Text.Json;
using DiffTransformer.Data;
using DiffTransformer.IO;
using DiffTransformer.Model;
using static TorchSharp.torch;

namespace DiffTransformer.Training;

/// <summary>How a run ended.</summary>
public enum TrainOutcome
{
    Completed,
    /// <summary>Stopped on request (Ctrl-C, SIGTERM, cancellation) after saving a checkpoint.</summary>
    Interrupted,
}
