using System.CommandLine;
using DiffTransformer.Benchmarks;
using DiffTransformer.Model;

namespace DiffTransformer.Cli.Common;

/// <summary>
/// --threads and --kernel, with one default everywhere: all cores, and the blocked attention kernel (the library
/// falls back to fused where it does not apply).
/// </summary>
public sealed class RuntimeOptions
{
    public const AttentionKernel DefaultKernel = AttentionKernel.Blocked;

    /// <summary>The kernel names, as --kernel and bench's --kernels accept them.</summary>
    public static readonly string[] Kernels = ["blocked", "fused", "explicit"];

    public Option<int> Threads { get; } = new("--threads")
    {
        Description = "CPU threads for libtorch and the blocked attention kernel (all logical cores unless told).",
        HelpName = "n",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    public Option<string> Kernel { get; } = new("--kernel")
    {
        Description = "Attention kernel: blocked (our exact CPU kernel; fused where it does not apply), " +
                      "fused (libtorch's scaled_dot_product_attention) or explicit (materialises the attention maps).",
        HelpName = string.Join('|', Kernels),
        DefaultValueFactory = _ => KernelNames.Of(DefaultKernel),
    };

    public RuntimeOptions()
    {
        Threads.Validators.Add(result =>
        {
            int n = result.GetValueOrDefault<int>();
            if (n < 1) result.AddError($"--threads must be ≥ 1, got {n}");
        });
        Kernel.AcceptOnlyFromAmong(Kernels);
    }

    /// <summary>Adds --threads and --kernel.</summary>
    public void AddTo(Command command)
    {
        command.Add(Threads);
        command.Add(Kernel);
    }

    /// <summary>Adds --threads alone, for verbs that choose kernels their own way.</summary>
    public void AddThreadsTo(Command command) => command.Add(Threads);

    /// <summary>Sets libtorch's thread count from --threads.</summary>
    public void ApplyThreads(ParseResult parse) => TorchSharp.torch.set_num_threads(parse.GetValue(Threads));

    public AttentionKernel GetKernel(ParseResult parse) => ParseKernel(parse.GetValue(Kernel)!);

    /// <summary>One kernel name (case-insensitive), as in --kernel or one item of bench's --kernels.</summary>
    public static AttentionKernel ParseKernel(string name) =>
        Kernels.Contains(name.Trim().ToLowerInvariant())
            ? Enum.Parse<AttentionKernel>(name.Trim(), ignoreCase: true)
            : throw new UsageException($"unknown attention kernel '{name}'; known: {string.Join(", ", Kernels)}");
}
