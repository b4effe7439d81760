using System.Diagnostics;
using DiffTransformer.Kernels;
using DiffTransformer.Model;
using DiffTransformer.Training;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffTransformer.Benchmarks;

public sealed record StepProfileResult(StepProfileOptions Options, IReadOnlyList<ProfileItem> Items, int Threads, string Machine, string LoadBefore, string LoadAfter);
