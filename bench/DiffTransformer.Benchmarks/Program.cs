using BenchmarkDotNet.Running;

namespace DiffTransformer.Benchmarks;

public static class Program
{
    /// <summary>dotnet run -c Release --project bench/DiffTransformer.Benchmarks -- --filter '*'</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
