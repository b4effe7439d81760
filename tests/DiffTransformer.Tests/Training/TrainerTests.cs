using DiffTransformer.Data;
using DiffTransformer.IO;
using DiffTransformer.Model;
using DiffTransformer.Tests.Data;
using DiffTransformer.Tasks;
using DiffTransformer.Training;
using Xunit.Abstractions;

namespace DiffTransformer.Tests.Training;

/// <summary>The trainer end to end on tiny models and generated text: a few steps each.</summary>
[Collection("serial")] // the checkpoint crash hook is static
public sealed class TrainerTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDir tmp = new();

    public void Dispose() => tmp.Dispose();

    private static readonly ModelConfig Tiny = new() { VocabSize = 257, EmbedDim = 32, NumLayers = 2, NumHeads = 2, MaxSeqLen = 64 };

    private string Dataset(string name = "data", string tokenizer = "byte")
    {
        var rng = new Random(7);
        var words = new[] { "alpha", "beta", "gamma", "delta", "differential", "attention", "noise", "signal", "λ", "ünïcode" };
        for (int d = 0; d < 40; d++)
            tmp.WriteText($"{name}-src/doc{d}.txt", string.Join(' ', Enumerable.Range(0, 60).Select(_ => words[rng.Next(words.Length)])));
        DatasetPreparer.Prepare(new PrepareOptions { Inputs = [tmp[$"{name}-src"]], OutputDirectory = tmp[name], Tokenizer = tokenizer, ValFraction = 0.2 });
        return tmp[name];
    }

    private TrainOptions Options(string data, string run, long steps = 6) => new()
    {
        Data = data, Out = tmp[run], Model = Tiny, BatchSize = 4, SeqLen = 32, Steps = steps, LearningRate = 3e-3, WarmupSteps = 2,
        EvalInterval = 3, EvalBatches = 2, CheckpointInterval = 2, KeepCheckpoints = 2,
    };

    private static List<double> Losses(string run) =>
        MetricsLog.Read(Path.Combine(run, "metrics.jsonl")).Where(r => r.Kind == "train").Select(r => r.Loss!.Value).ToList();

    [Fact]
    public void TrainsWritesEverythingAndIsDeterministic()
    {
        string data = Dataset();
        var r1 = new Trainer(Options(data, "a"), log.WriteLine).Run();
        var r2 = new Trainer(Options(data, "b")).Run();
        Assert.Equal(TrainOutcome.Completed, r1.Outcome);
        Assert.Equal(6, r1.Step);
        foreach (var f in new[] { "run.json", "metrics.jsonl", "loss.png", "summary.json", "final/model.safetensors", "final/config.json", "final/tokenizer.json" })
            Assert.True(File.Exists(Path.Combine(tmp["a"], f)), $"missing {f}");
        Assert.Equal(["step_0000004", "step_0000006"], new RunDirectory(tmp["a"]).Checkpoints().Select(Path.GetFileName));
        var l1 = Losses(tmp["a"]);
        Assert.Equal(6, l1.Count);
        Assert.Equal(l1, Losses(tmp["b"]));                                  // same seed → same run
        Assert.True(l1[^1] < l1[0], $"loss did not fall: {string.Join(", ", l1)}");
        var evals = MetricsLog.Read(Path.Combine(tmp["a"], "metrics.jsonl")).Where(r => r.Kind == "eval").ToList();
        Assert.Equal([3L, 6L], evals.Select(e => e.Step));
        Assert.All(evals, e => Assert.NotNull(e.ValLoss));
        Assert.Equal(2, evals[0].Lambda!.Length);                           // λ of each DIFF layer is logged
        Assert.Equal("byte", ModelStore.LoadTokenizerName(tmp["a/final"]));
        log.WriteLine($"losses {string.Join(", ", l1.Select(x => x.ToString("F4")))}");
    }

    [Fact]
    public void TwoThreadsGiveBitIdenticalRunsWhateverTheKernelsSchedule()
    {
        // sequences of 100 tokens: three query blocks of the blocked kernel add into the same keys' gradients
        string data = Dataset();
        var options = Options(data, "x") with { Model = Tiny with { MaxSeqLen = 128 }, SeqLen = 100, Steps = 4, EvalInterval = 2, CheckpointInterval = 4 };
        int threads = TorchSharp.torch.get_num_threads();
        TorchSharp.torch.set_num_threads(2);
        try
        {
            new Trainer(options with { Out = tmp["t1"] }).Run();
            new Trainer(options with { Out = tmp["t2"] }).Run();
            DiffTransformer.Kernels.BlockedAttention.ReversedSchedule = true;   // the other workers take each piece of work
            new Trainer(options with { Out = tmp["t3"] }).Run();
        }
        finally
        {
            DiffTransformer.Kernels.BlockedAttention.ReversedSchedule = false;
            TorchSharp.torch.set_num_threads(threads);
        }
        var losses = Losses(tmp["t1"]);
        log.WriteLine($"losses {string.Join(", ", losses.Select(x => x.ToString("R")))}");
        byte[] weights = File.ReadAllBytes(Path.Combine(tmp["t1"], "final", "model.safetensors"));
        foreach (var run in new[] { "t2", "t3" })
        {
            var other = Losses(tmp[run]);
            Assert.True(losses.SequenceEqual(other), $"{run}: the losses differ: {string.Join(", ", other.Select(x => x.ToString("R")))}");
            Assert.Equal(
                MetricsLog.Read(Path.Combine(tmp["t1"], "metrics.jsonl")).Where(r => r.Kind == "eval").Select(r => r.ValLoss),
                MetricsLog.Read(Path.Combine(tmp[run], "metrics.jsonl")).Where(r => r.Kind == "eval").Select(r => r.ValLoss));
            Assert.True(weights.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(tmp[run], "final", "model.safetensors"))), $"{run}: the final weights differ");
        }
    }

    [Fact]
    public void WithoutDataItTrainsOnTheBuiltinTaskAndReportsRecall()
    {
        var options = new TrainOptions
        {
            Out = tmp["builtin"], Model = Tiny with { MaxSeqLen = 160 }, BatchSize = 2, SeqLen = 64, Steps = 2, WarmupSteps = 1, EvalInterval = 2, EvalBatches = 1,
        };
        var r = new Trainer(options, log.WriteLine).Run();
        Assert.True(File.Exists(Path.Combine(tmp["builtin"], "data", "recall_task.json")));
        Assert.InRange(r.Task["recall_acc"], 0, 1);
        Assert.InRange(r.Task["recall_char_acc"], 0, 1);
        var eval = MetricsLog.Read(Path.Combine(tmp["builtin"], "metrics.jsonl")).Single(m => m.Kind == "eval");
        Assert.True(eval.Task!.ContainsKey("recall_acc"));
        Assert.Equal(WindowSampling.Uniform, Trainer.LoadRunOptions(tmp["builtin"]).Windows);
    }

    [Fact]
    public void TheWindowRuleIsResolvedIntoRunJsonKeptOnResumeAndOlderRunsSampledUniformly()
    {
        string data = Dataset();
        var options = Options(data, "win", steps: 4) with { Windows = WindowSampling.Documents };
        var lines = new List<string>();
        new Trainer(options, l => { lines.Add(l); log.WriteLine(l); }).Run();
        Assert.Contains(lines, l => l.Contains("training windows start at document boundaries"));
        Assert.Equal(WindowSampling.Documents, Trainer.LoadRunOptions(tmp["win"]).Windows);
        // a resume that does not say keeps the run's rule; one that says otherwise is refused
        var resumed = new Trainer(options with { Windows = null, Steps = 6 }, log.WriteLine) { Resume = true }.Run();
        Assert.Equal(6, resumed.Step);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(options with { Windows = WindowSampling.Uniform, Steps = 8 }) { Resume = true }.Run());
        Assert.Contains("windows \"uniform\" (saved: \"documents\")", e.Message);
        // the documents rule draws other windows than the uniform one: the loss curves differ from the first step
        new Trainer(Options(data, "uni", steps: 4), log.WriteLine).Run();
        Assert.Equal(WindowSampling.Uniform, Trainer.LoadRunOptions(tmp["uni"]).Windows);   // prepared data: uniform unless told
        Assert.NotEqual(Losses(tmp["uni"])[0], Losses(tmp["win"])[0]);
        // run.json of a run from before the rule existed: it sampled uniformly
        string json = File.ReadAllText(tmp["uni/run.json"]);
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        Assert.True(node.Remove("windows"));
        File.WriteAllText(tmp["uni/run.json"], node.ToJsonString());
        Assert.Equal(WindowSampling.Uniform, Trainer.LoadRunOptions(tmp["uni"]).Windows);
    }

    [Fact]
    public void TheFactsTaskIsGeneratedIntoTheRunAndReportsItsMetricsAndAResumeMayNotSwitchTask()
    {
        var options = new TrainOptions
        {
            Out = tmp["facts"], Task = BuiltinTaskKind.Facts, Model = Tiny with { MaxSeqLen = 160 }, BatchSize = 2, SeqLen = 160, Steps = 2, WarmupSteps = 1,
            EvalInterval = 2, EvalBatches = 1,
        };
        var r = new Trainer(options, log.WriteLine).Run();
        var task = DiffTransformer.Tasks.Needle.NeedleDataset.ReadTask(tmp["facts/data"]);
        Assert.NotNull(task);
        Assert.Equal(160, task.Options.ContextLength);                                   // documents of the training context
        Assert.Equal(8, task.Options.Facts.Count);
        Assert.Empty(task.Haystack);                                                     // generated filler
        foreach (var k in new[] { "needle_acc", "needle_unsupported", "fact_faithful", "fact_hallucinated", "fact_memory" }) Assert.InRange(r.Task[k], 0, 1);
        Assert.Equal(BuiltinTaskKind.Facts, Trainer.LoadRunOptions(tmp["facts"]).Task);
        Assert.Equal(WindowSampling.Documents, Trainer.LoadRunOptions(tmp["facts"]).Windows);   // the needle tasks' default
        string before = File.ReadAllText(tmp["facts/data/needle_task.json"]);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(options with { Task = BuiltinTaskKind.Needle, Steps = 4 }) { Resume = true }.Run());
        Assert.Contains("task \"needle\" (saved: \"facts\")", e.Message);
        Assert.Equal(before, File.ReadAllText(tmp["facts/data/needle_task.json"]));         // refused before the data was touched
        Assert.Contains("not to the recall task", Assert.Throws<ArgumentException>(() => new TrainOptions { Haystack = ["x.txt"] }.Validate()).Message);
        Assert.Contains("haystack missing.txt: no such file", Assert.Throws<FileNotFoundException>(() => new TrainOptions { Task = BuiltinTaskKind.Needle, Haystack = ["missing.txt"] }.Validate()).Message);
    }

    [Fact]
    public void TheIclTaskIsGeneratedFromTheExamplesIntoTheRunAndReportsIclAccuracy()
    {
        string examples = DiffTransformer.Tests.Tasks.IclTestData.Write(tmp, "labelled.jsonl");
        var options = new TrainOptions
        {
            Out = tmp["icl"], Task = BuiltinTaskKind.Icl, Examples = [examples], Icl = new() { MaxTextBytes = 24 },
            Model = Tiny with { MaxSeqLen = 128 }, BatchSize = 2, SeqLen = 128, Steps = 2, WarmupSteps = 1, EvalInterval = 2, EvalBatches = 1,
        };
        var r = new Trainer(options, log.WriteLine).Run();
        Assert.InRange(r.Task["icl_acc"], 0, 1);
        Assert.InRange(r.Task["icl_acc_1shot"], 0, 1);
        Assert.Contains(MetricsLog.Read(tmp["icl/metrics.jsonl"]), m => m.Kind == "eval" && m.Task is { } t && t.ContainsKey("icl_acc"));
        var task = DiffTransformer.Tasks.Icl.IclDataset.ReadTask(tmp["icl/data"])!;
        Assert.Equal(128, task.ContextLength);                                          // episodes of the training context
        Assert.Equal(24, task.Options.MaxTextBytes);
        var saved = Trainer.LoadRunOptions(tmp["icl"]);
        Assert.Equal([Path.GetFullPath(examples)], saved.Examples);
        Assert.Equal(WindowSampling.Documents, saved.Windows);                          // an episode starts at a window's start
        var e = Assert.Throws<ArgumentException>(() => new Trainer(options with { Icl = new() { MaxTextBytes = 20 }, Steps = 4 }) { Resume = true }.Run());
        Assert.Contains("max_text_bytes", e.Message);
        // options that need the other: examples without the icl task, the icl task without examples, a missing file
        Assert.Contains("labelled examples apply to the built-in icl task, not to the recall task",
            Assert.Throws<ArgumentException>(() => new TrainOptions { Examples = [examples] }.Validate()).Message);
        Assert.Contains("the icl task needs labelled examples: --examples", Assert.Throws<ArgumentException>(() => new TrainOptions { Task = BuiltinTaskKind.Icl }.Validate()).Message);
        Assert.Contains("examples missing.jsonl: no such file", Assert.Throws<FileNotFoundException>(() => new TrainOptions { Task = BuiltinTaskKind.Icl, Examples = ["missing.jsonl"] }.Validate()).Message);
        Assert.Equal(new DiffTransformer.Tasks.Icl.IclTaskOptions().MaxTextBytes, new TrainOptions { Task = BuiltinTaskKind.Icl, Examples = [examples] }.Validate().Icl!.MaxTextBytes);
    }

    [Fact]
    public void AResumeRefusesToRegenerateTheBuiltinDataItWasTrainedOn()
    {
        var options = new TrainOptions
        {
            Out = tmp["regen"], Task = BuiltinTaskKind.Needle, Model = Tiny with { MaxSeqLen = 128 }, BatchSize = 2, SeqLen = 128, Steps = 2,
            WarmupSteps = 1, EvalInterval = 0, CheckpointInterval = 1,
        };
        new Trainer(options).Run();
        // as if the run had been started by a difft whose needle generator was older: this one would generate other documents
        string taskFile = tmp["regen/data/needle_task.json"];
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(taskFile))!.AsObject();
        node["generator_version"] = 1;
        File.WriteAllText(taskFile, node.ToJsonString());
        var shards = Directory.GetFiles(tmp["regen/data"]).Order().Select(File.ReadAllBytes).ToList();
        var e = Assert.Throws<InvalidDataException>(() => new Trainer(options with { Steps = 4 }) { Resume = true }.Run());
        log.WriteLine(e.Message);
        Assert.StartsWith($"{tmp["regen/data"]} holds the needle task of generator version 1 (this difft generates version {DiffTransformer.Tasks.Needle.NeedleTaskFile.CurrentGeneratorVersion})", e.Message);
        Assert.Contains("--force", e.Message);
        Assert.Equal(shards, Directory.GetFiles(tmp["regen/data"]).Order().Select(File.ReadAllBytes).ToList());   // the data it was trained on, untouched
    }

    [Fact]
    public void ASecondTrainerOnTheSameRunIsRefusedWhileTheFirstHoldsItAndNothingIsWritten()
    {
        string data = Dataset();
        using (RunLock.Acquire(tmp["locked"]))                                   // another trainer, as far as this one can tell
        {
            var e = Assert.Throws<IOException>(() => new Trainer(Options(data, "locked")).Run());
            Assert.StartsWith($"{tmp["locked"]} is in use by another trainer", e.Message);
            Assert.Equal([Path.Combine(tmp["locked"], RunLock.FileName)], Directory.GetFileSystemEntries(tmp["locked"]));
        }
        Assert.Equal(TrainOutcome.Completed, new Trainer(Options(data, "locked")).Run().Outcome);   // released: it runs
        using (RunLock.Acquire(tmp["locked"])) { }                                // and the finished trainer let go of it
    }

    [Fact]
    public void AccumulatingMicroBatchesEqualsOneBigBatch()
    {
        string data = Dataset();
        new Trainer(Options(data, "big") with { BatchSize = 4, Steps = 3 }).Run();
        new Trainer(Options(data, "acc") with { BatchSize = 2, TokensPerStep = 4 * 32, Steps = 3 }).Run();
        var big = Losses(tmp["big"]);
        var acc = Losses(tmp["acc"]);
        log.WriteLine($"one batch of 4: {string.Join(", ", big)}\n2 × 2 rows:     {string.Join(", ", acc)}");
        for (int i = 0; i < big.Count; i++) Assert.Equal(big[i], acc[i], 4);
        using var a = ModelStore.Load(tmp["big/final"]);
        using var b = ModelStore.Load(tmp["acc/final"]);
        foreach (var ((name, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
            TensorAssert.Close(log, name, pb, pa, rtol: 1e-4, atol: 1e-5);
    }

    [Fact]
    public void ResumeEqualsUninterrupted()
    {
        string data = Dataset();
        new Trainer(Options(data, "whole")).Run();
        using (var cts = new CancellationTokenSource())
        {
            var stopAt3 = new Progress3(cts);
            var r = new Trainer(Options(data, "parts"), progress: stopAt3).Run(cts.Token);
            Assert.Equal(TrainOutcome.Interrupted, r.Outcome);
            Assert.Equal(3, r.Step);
        }
        Assert.Equal(3, Losses(tmp["parts"]).Count);
        var resumed = new Trainer(Trainer.LoadRunOptions(tmp["parts"]) with { Out = tmp["parts"] }, log.WriteLine) { Resume = true }.Run();
        Assert.Equal(TrainOutcome.Completed, resumed.Outcome);
        var whole = Losses(tmp["whole"]);
        var parts = Losses(tmp["parts"]);
        log.WriteLine($"uninterrupted: {string.Join(", ", whole)}\nresumed:       {string.Join(", ", parts)}");
        Assert.Equal(whole.Count, parts.Count);
        for (int i = 0; i < whole.Count; i++) Assert.Equal(whole[i], parts[i], 5);
    }

    [Fact]
    public void ADamagedCheckpointIsPassedOverForTheNewestIntactOneNamingIt()
    {
        string data = Dataset();
        new Trainer(Options(data, "dmg")).Run();                                   // checkpoints at steps 4 and 6
        string latest = Path.Combine(tmp["dmg"], "checkpoints", "step_0000006");
        Assert.True(File.Exists(Path.Combine(latest, Checkpoint.ChecksumFile)));
        Assert.Null(Checkpoint.Damage(latest));
        string weights = Path.Combine(latest, ModelStore.WeightsFile);
        var bytes = File.ReadAllBytes(weights);
        for (int i = bytes.Length - 64; i < bytes.Length; i++) bytes[i] ^= 0x5A;   // flipped bytes in the tensor data
        File.WriteAllBytes(weights, bytes);
        Assert.Equal("model.safetensors does not match its checksum (damaged or truncated)", Checkpoint.Damage(latest));
        var lines = new List<string>();
        var r = new Trainer(Options(data, "dmg", steps: 8), lines.Add) { Resume = true }.Run();
        Assert.Equal(TrainOutcome.Completed, r.Outcome);
        Assert.Contains(lines, l => l == $"warning: checkpoint {latest} is not intact: model.safetensors does not match its checksum (damaged or truncated); trying an earlier one");
        Assert.Contains(lines, l => l.Contains("step 4", StringComparison.Ordinal) || l.Contains("step_0000004", StringComparison.Ordinal));

        new Trainer(Options(data, "nolatest")).Run();
        File.Delete(new RunDirectory(tmp["nolatest"]).LatestPointer);                // the pointer gone, two complete checkpoints left
        Assert.Equal(8, new Trainer(Options(data, "nolatest", steps: 8)) { Resume = true }.Run().Step);

        new Trainer(Options(data, "alldmg")).Run();
        foreach (var c in new RunDirectory(tmp["alldmg"]).Checkpoints()) File.WriteAllText(Path.Combine(c, Checkpoint.StateFile), "{}");
        var e = Assert.Throws<InvalidDataException>(() => new Trainer(Options(data, "alldmg", steps: 8)) { Resume = true }.Run());
        Assert.Equal($"{tmp["alldmg"]} has no intact checkpoint to resume from: step_0000006 (state.json does not match its checksum (damaged or truncated)), " +
                     "step_0000004 (state.json does not match its checksum (damaged or truncated))", e.Message);

        File.WriteAllText(new RunDirectory(tmp["alldmg"]).OptionsFile, "{}");
        var e2 = Assert.Throws<InvalidDataException>(() => Trainer.LoadRunOptions(tmp["alldmg"]));
        Assert.StartsWith($"{new RunDirectory(tmp["alldmg"]).OptionsFile}: missing data, out, model, batch_size, seq_len", e2.Message);
    }

    [Fact]
    public void ADamagedCheckpointPassedOverDoesNotCountTowardTheCheckpointsKept()
    {
        string data = Dataset();
        new Trainer(Options(data, "keep")).Run();                                  // keep 2: checkpoints at steps 4 and 6
        var run = new RunDirectory(tmp["keep"]);
        File.WriteAllText(Path.Combine(run.CheckpointDir(6), Checkpoint.StateFile), "{}");   // damaged: the resume starts at 4
        // checkpoints at 5 and 10 now: were the damaged one counted, the pruning would leave 10 the only intact checkpoint
        var r = new Trainer(Options(data, "keep", steps: 10) with { CheckpointInterval = 5 }) { Resume = true }.Run();
        Assert.Equal(10, r.Step);
        var intact = run.Checkpoints().Where(c => Checkpoint.Damage(c) is null).Select(Path.GetFileName).ToList();
        Assert.Equal(["step_0000005", "step_0000010"], intact);
    }

    [Fact]
    public void AResumeMaySwitchTheKernelSinceTheyComputeTheSameFunction()
    {
        var saved = Options(Dataset(), "kernel") with { Kernel = DiffTransformer.Model.AttentionKernel.Blocked };
        Assert.Empty(Trainer.ResumeDifferences(saved, saved with { Kernel = DiffTransformer.Model.AttentionKernel.Fused }));
        Assert.NotEmpty(Trainer.ResumeDifferences(saved, saved with { Seed = saved.Seed + 1 }));      // identity still holds
    }

    [Fact]
    public void ARunResumedWithAnotherKernelContinuesItsCurve()
    {
        string data = Dataset();
        new Trainer(Options(data, "whole")).Run();                           // blocked throughout
        using (var cts = new CancellationTokenSource())
            new Trainer(Options(data, "switched"), progress: new Progress3(cts)).Run(cts.Token);
        var fused = Trainer.LoadRunOptions(tmp["switched"]) with { Out = tmp["switched"], Kernel = AttentionKernel.Fused };
        var r = new Trainer(fused, log.WriteLine) { Resume = true }.Run();
        Assert.Equal(TrainOutcome.Completed, r.Outcome);
        Assert.Equal(6, r.Step);
        var whole = Losses(tmp["whole"]);
        var switched = Losses(tmp["switched"]);
        log.WriteLine($"blocked:          {string.Join(", ", whole)}\nblocked → fused:  {string.Join(", ", switched)}");
        Assert.Equal(whole.Count, switched.Count);
        for (int i = 0; i < whole.Count; i++) Assert.Equal(whole[i], switched[i], 3);   // the same function, float32 rounding apart
    }

    [Fact]
    public void AResumeGivenAPresetVocabularyTakesTheDatasOwn()
    {
        string data = Dataset();
        using (var cts = new CancellationTokenSource())
            new Trainer(Options(data, "preset"), progress: new Progress3(cts)).Run(cts.Token);
        // as `train --resume --preset …` passes it: a preset's vocabulary, which the data replaces (vocab_from_data)
        var given = Options(data, "preset") with { Model = Tiny with { VocabSize = 100 } };
        var r = new Trainer(given) { Resume = true }.Run();
        Assert.Equal(6, r.Step);
        Assert.Equal(257, r.Model.VocabSize);
    }

    [Fact]
    public void ResumingACompletedRunReportsWhatItMeasured()
    {
        string data = Dataset();
        var first = new Trainer(Options(data, "done")).Run();
        var again = new Trainer(Trainer.LoadRunOptions(tmp["done"]) with { Out = tmp["done"] }) { Resume = true }.Run();
        Assert.Equal(TrainOutcome.Completed, again.Outcome);
        Assert.Equal(first.Step, again.Step);
        Assert.NotNull(again.FinalTrainLoss);
        Assert.Equal(first.FinalTrainLoss!.Value, again.FinalTrainLoss!.Value, 5);   // from metrics.jsonl, not an empty session
        Assert.Equal(first.TokensPerSecond, again.TokensPerSecond);
        Assert.Equal(first.TokensPerSecond, Trainer.LoadSummary(tmp["done"])!.TokensPerSecond);
    }

    /// <summary>Requests cancellation once step 3 is done (reported synchronously).</summary>
    private sealed class Progress3(CancellationTokenSource cts) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress p)
        {
            if (p.Step == 3) cts.Cancel();
        }
    }

    [Fact]
    public void ACrashWhileCheckpointingLeavesThePreviousOneUsable()
    {
        string data = Dataset();
        Checkpoint.AfterFileWritten = f =>
        {
            if (f == Checkpoint.OptimizerFile && Directory.Exists(Path.Combine(tmp["crash"], "checkpoints", "step_0000002")))
                throw new IOException("simulated crash while writing checkpoint 4");
        };
        try
        {
            Assert.Throws<IOException>(() => new Trainer(Options(data, "crash")).Run());
        }
        finally
        {
            Checkpoint.AfterFileWritten = null;
        }
        var run = new RunDirectory(tmp["crash"]);
        Assert.Equal("step_0000002", Path.GetFileName(run.Latest()));
        Assert.Single(Directory.GetDirectories(run.CheckpointsDir, ".incomplete-*"));  // the torn write, never under a real name
        var r = new Trainer(Trainer.LoadRunOptions(run.Root) with { Out = run.Root }) { Resume = true }.Run();
        Assert.Equal(6, r.Step);
        Assert.Empty(Directory.GetDirectories(run.CheckpointsDir, ".incomplete-*"));
    }

    [Fact]
    public void NaNLossStopsNamingTheStepAndKeepsTheLastCheckpoint()
    {
        string data = Dataset();
        var trainer = new Trainer(Options(data, "nan")) { LossOverride = (step, loss) => step == 5 ? double.NaN : loss };
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        log.WriteLine(e.Message);
        Assert.Contains("loss NaN at step 5", e.Message);
        Assert.Contains("step_0000004", e.Message);
        var run = new RunDirectory(tmp["nan"]);
        Assert.Equal("step_0000004", Path.GetFileName(run.Latest()));
        using var m = ModelStore.Load(run.Latest()!);                       // intact and loadable
        Assert.False(Directory.Exists(run.Final));
    }

    [Fact]
    public void BadInputsFailClearlyAndTouchNothing()
    {
        string data = Dataset();
        // missing dataset: no run directory is created
        var e1 = Assert.ThrowsAny<IOException>(() => new Trainer(Options(tmp["nope"], "r1")).Run());
        Assert.Contains(tmp["nope"], e1.Message);
        Assert.False(Directory.Exists(tmp["r1"]));

        // a model whose vocabulary cannot hold the data's tokens (explicit vocab_size)
        var small = Options(data, "r2") with { Model = Tiny with { VocabSize = 100 }, VocabFromData = false };
        var e2 = Assert.Throws<ConfigException>(() => new Trainer(small).Run());
        Assert.Contains("'byte' has 257 tokens but the model's vocab_size is 100", e2.Message);
        Assert.False(Directory.Exists(tmp["r2"]));

        // empty train split
        string empty = tmp["empty"];
        Directory.CreateDirectory(empty);
        tmp.WriteText("empty-src/a.txt", "x");
        DatasetPreparer.Prepare(new PrepareOptions { Inputs = [tmp["empty-src"]], OutputDirectory = tmp["empty/d"], ValFraction = 0 });
        var e3 = Assert.Throws<InvalidDataException>(() => new Trainer(Options(tmp["empty/d"], "r3")).Run());
        Assert.Contains("fewer than seq_len + 1 = 33", e3.Message);
        Assert.False(Directory.Exists(tmp["r3"]));

        // corrupt shard
        string corrupt = Dataset("corrupt");
        var shard = Directory.GetFiles(corrupt, "train_*.bin").First();
        var bytes = File.ReadAllBytes(shard);
        bytes[0] ^= 0xFF;
        File.WriteAllBytes(shard, bytes);
        var e4 = Assert.Throws<InvalidDataException>(() => new Trainer(Options(corrupt, "r4")).Run());
        Assert.Contains(shard, e4.Message);
        Assert.False(Directory.Exists(tmp["r4"]));
        var huge = new TrainOptions { Out = tmp["r5"], Model = Tiny with { VocabSize = 2_000_000_000, EmbedDim = 8192, NumHeads = 64 } };
        Assert.Contains("for its", Assert.Throws<ConfigException>(() => new Trainer(huge).Run()).Message);   // refused with the figure…
        Assert.False(Directory.Exists(tmp["r5"]));                                                             // …before the run is touched

        // an existing run is not overwritten without --force
        new Trainer(Options(data, "r5") with { Steps = 2 }).Run();
        var before = File.ReadAllText(Path.Combine(tmp["r5"], "metrics.jsonl"));
        Assert.Throws<IOException>(() => new Trainer(Options(data, "r5") with { Steps = 2 }).Run());
        Assert.Equal(before, File.ReadAllText(Path.Combine(tmp["r5"], "metrics.jsonl")));
    }

    /// <summary>A tokenizer of two billion ids (writing a dataset only needs its name and sizes).</summary>
    private sealed class HugeVocabulary : ITokenizer
    {
        public string Name => "huge";
        public int VocabSize => 2_000_000_000;
        public int EndOfText => 0;
        public int[] Encode(string text) => [.. text.Select(c => (int)c)];
        public string Decode(ReadOnlySpan<int> tokens) => new([.. tokens.ToArray().Select(t => (char)t)]);
    }

    [Fact]
    public void DataWhoseVocabularyMakesTheModelTooLargeIsRefusedBeforeAnythingIsWritten()
    {
        var tokenizer = new HugeVocabulary();
        DatasetDirectory.WriteGenerated(tmp["hugedata"], force: false, "test", tokenizer, seed: 1, shardTokens: 1 << 20, "a test",
            staging =>
            {
                SplitMeta Split(string name, int documents)
                {
                    using var w = new SplitWriter(staging, name, tokenizer, 1 << 20);
                    for (int d = 0; d < documents; d++) w.AppendDocument([.. Enumerable.Range(1, 60)], 60);
                    return w.Complete();
                }
                return (Split("train", 10), Split("val", 2));
            }, new Dictionary<string, string>());
        // the preset's vocabulary (257) fits; the data's, which replaces it (vocab_from_data), makes 2e9 × 32 × 2 parameters
        var e = Assert.Throws<ConfigException>(() => new Trainer(Options(tmp["hugedata"], "hugerun")).Run());
        Assert.Contains("for its", e.Message);
        Assert.Contains("vocab_size 2000000000", e.Message);
        Assert.False(Directory.Exists(tmp["hugerun"]));                           // no run.json, no trace
    }

    [Fact]
    public void ResumingOnDataOfAnotherTokenizerIsRefused()
    {
        string data = Dataset();
        string gpt2 = Dataset("gpt2data", "gpt2");
        using (var cts = new CancellationTokenSource())
            new Trainer(Options(data, "tok"), progress: new Progress3(cts)).Run(cts.Token);
        var before = Directory.GetFiles(tmp["tok"], "*", SearchOption.AllDirectories).Order().ToList();
        var opts = Trainer.LoadRunOptions(tmp["tok"]) with { Out = tmp["tok"], Data = gpt2 };
        var e = Assert.Throws<InvalidDataException>(() => new Trainer(opts) { Resume = true }.Run());
        log.WriteLine(e.Message);
        Assert.Contains("trained with tokenizer 'byte' but the dataset", e.Message);
        Assert.Contains("uses 'gpt2'", e.Message);
        Assert.Equal(before, Directory.GetFiles(tmp["tok"], "*", SearchOption.AllDirectories).Order().ToList());

        // and changing a training option on resume is refused, naming it
        var lr = Trainer.LoadRunOptions(tmp["tok"]) with { Out = tmp["tok"], LearningRate = 1 };
        var e2 = Assert.Throws<ArgumentException>(() => new Trainer(lr) { Resume = true }.Run());
        Assert.Contains("learning_rate 1 (saved: 0.003)", e2.Message);
    }
}
