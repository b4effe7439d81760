namespace DiffTransformer.Cli.Tests;

/// <summary>
/// Each bench verb at a tiny size (a second or two): the library's report on stdout, progress on stderr, and no
/// target verdicts (the targets live in docs/BENCHMARKS.md).
/// </summary>
public sealed class BenchTests
{
    private static string Report(params string[] args)
    {
        var run = CliRun.Of(["bench", .. args, "--threads", "1"]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.All(run.ErrorLines, line => Assert.StartsWith("bench: ", line));
        Assert.DoesNotContain("target", run.Stdout);
        return run.Stdout;
    }

    [Fact]
    public void Decode()
    {
        string s = Report("decode", "--contexts", "64", "--tokens", "2", "--recompute", "64", "--recompute-tokens", "1", "--repeats", "1");
        Assert.StartsWith("preset tiny: E 128, L 5, H 2, Hkv 2, vocab 257; diff; blocked core, 1 threads, batch 1, median of 1", s);
        Assert.Contains("| model | mode | context | tokens timed | ms/token | tokens/s | ms/token per round | prefill tokens/s |", s);
        Assert.Contains("| diff | cached | 64 | 2 |", s);
        Assert.Contains("| diff | recompute | 64 | 1 |", s);
        Assert.DoesNotContain("relative to", s);
    }

    [Fact]
    public void DecodeSideBySide()
    {
        string s = Report("decode", "--set", "num_layers=1", "--contexts", "32", "--tokens", "2", "--recompute", "", "--repeats", "2", "--archs", "diff,transformer", "--weights", "float32,int8");
        Assert.StartsWith("preset tiny: E 128, L 1, H 2, Hkv 2, vocab 257; diff, diff int8, transformer, transformer int8; blocked core, 1 threads, batch 1, median of 2 rounds in rotating order", s);
        Assert.Contains("Tokens/s relative to diff (median over rounds of the per-round ratio):", s);
        Assert.Contains("| transformer int8 | ", s);
        var bad = CliRun.Of("bench", "decode", "--archs", "diff,lstm");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("unknown architecture 'lstm'", Assert.Single(bad.ErrorLines));
    }

    [Fact]
    public void DecodeAtContextsShorterThanTheWarmUp()
    {
        string s = Report("decode", "--contexts", "16", "--tokens", "2", "--recompute", "16", "--recompute-tokens", "1", "--repeats", "1");
        Assert.Contains("| cached | 16 | 2 |", s);
    }

    [Fact]
    public void Serve()
    {
        string s = Report("serve", "--set", "num_layers=1", "--clients", "1,2", "--requests", "1", "--prompt-tokens", "4", "--max-tokens", "3");
        Assert.StartsWith("command: difft bench serve --set num_layers=1", s);
        Assert.Contains("preset tiny: diff, E 128, L 1, H 2, Hkv 2, vocab 257 (byte tokenizer)", s);
        Assert.Contains("| clients | requests | tokens | aggregate tok/s | vs 1 client | mean batch | per-stream tok/s p50 | first token p50 / p95 ms | per token p50 / p95 ms |", s);
        Assert.Contains("| 1 | 1 | 3 |", s);
        Assert.Contains("| 2 | 2 | 6 |", s);
    }

    [Fact]
    public void Attention()
    {
        string s = Report("attention", "--embed-dim", "32", "--heads", "1", "--seq-lens", "16", "--kernels", "fused,blocked", "--repeats", "1");
        Assert.StartsWith("command: difft bench attention --embed-dim 32", s);
        Assert.Contains("| 16 | 1 | DIFF | blocked | fwd+bwd |", s);
        Assert.Contains("| 16 | 1 | baseline | fused | fwd |", s);
        Assert.Contains("| DIFF blocked / DIFF fused |", s);
        Assert.DoesNotContain("explicit", s.Split("Ratios")[1]);
    }

    [Fact]
    public void Model()
    {
        string s = Report("model", "--preset", "tiny", "--set", "num_layers=1", "--batch", "1", "--seq-len", "16", "--kernels", "fused", "--repeats", "1");
        Assert.Contains("preset tiny: E 128, L 1, H 2 (d 32), Hkv 2, FFN 341, vocab 257; batch 1 × T 16 = 16 tokens per step", s);
        Assert.Contains("| DIFF | fused |", s);
        Assert.Contains("| Transformer | fused |", s);
        Assert.Contains("| DIFF fused / Transformer fused |", s);
    }

    [Fact]
    public void Profile()
    {
        string s = Report("profile", "--preset", "tiny", "--set", "num_layers=1", "--batch", "1", "--seq-len", "16", "--repeats", "1");
        Assert.Contains("| block | SwiGLU |", s);
        Assert.Contains("| attention | attention ms per step | everything else ms | step ms (sum) | attention share |", s);
        foreach (var layer in new[] { "DIFF, blocked core", "DIFF, fused core (2 SDPA calls)", "Transformer, fused core (SDPA)", "Transformer, blocked core" })
            Assert.Contains($"| {layer} | ", s.Split("A step assembled")[1]);
    }
}
