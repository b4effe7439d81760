using BenchmarkDotNet.Running;

namespace DiffTransformer.Microbenchmarks;

public static class Program
{
    /// <summary>dotnet run -c Release --project bench/DiffTransformer.Microbenchmarks -- --filter '*'</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
