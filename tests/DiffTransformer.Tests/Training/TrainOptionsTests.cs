using System.Text.Json.Nodes;
using DiffTransformer.Model;
using DiffTransformer.Tests.Data;
using DiffTransformer.Training;

namespace DiffTransformer.Tests.Training;

public sealed class TrainOptionsTests : IDisposable
{
    private readonly TempDir tmp = new();

    public void Dispose() => tmp.Dispose();

    [Fact]
    public void RunJsonRoundTripsAndRefusesAnUnknownFieldNamingItAndTheFile()
    {
        var options = new TrainOptions { Out = tmp["run"], Schedule = DecayShape.Linear, Kernel = AttentionKernel.Fused };
        var run = new RunDirectory(tmp["run"]);
        options.Save(run.OptionsFile);
        Assert.Contains("\"schedule\": \"linear\"", File.ReadAllText(run.OptionsFile));
        Assert.Equal(options, Trainer.LoadRunOptions(run.Root));

        var node = JsonNode.Parse(File.ReadAllText(run.OptionsFile))!.AsObject();
        node["lerning_rate"] = 0.1;                                           // a typo must not be ignored
        File.WriteAllText(run.OptionsFile, node.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => Trainer.LoadRunOptions(run.Root));
        Assert.StartsWith(run.OptionsFile + ": ", e.Message);
        Assert.Contains("'lerning_rate'", e.Message);
    }
}
