using System.Globalization;

namespace DiffTransformer.Benchmarks;

/// <summary>Markdown number formatting shared by the bench tables.</summary>
public static class Fmt
{
    public static string N0(double x) => x.ToString("N0", CultureInfo.InvariantCulture);
    public static string F1(double x) => x.ToString("F1", CultureInfo.InvariantCulture);
    public static string F2(double x) => x.ToString("F2", CultureInfo.InvariantCulture);
    public static string Mb(long? bytes) => bytes is long b ? (b / 1048576.0).ToString("N0", CultureInfo.InvariantCulture) : "n/a";
    public static string Ratio(double x) => x.ToString("F2", CultureInfo.InvariantCulture) + "×";
}
