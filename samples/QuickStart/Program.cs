// samples/QuickStart: an app on the DiffTransformer package alone (QuickStart.csproj says how it gets the package).
// Below these lines the file is README's "Use it in your app" code, verbatim (a test in the repository checks it).
//   dotnet run            trains 300 steps: about a minute on 2 cores
//   dotnet run -- 20      fewer steps

using DiffTransformer.Inference;
using DiffTransformer.Model;
using DiffTransformer.Training;
using Microsoft.Extensions.AI;

// train the tiny DIFF Transformer (≈1M parameters) on the built-in key→value recall task, data it generates itself
long steps = args.Length > 0 ? long.Parse(args[0]) : 300;
var training = new TrainOptions { Model = Presets.Get("tiny"), Steps = steps, WarmupSteps = steps / 10, EvalInterval = steps, Out = "runs/quickstart" };
TrainResult result = new Trainer(training, log: Console.WriteLine) { Force = true }.Run();

// ask it through IChatClient (Microsoft.Extensions.AI): the value of key a, one byte, greedy
using IChatClient client = DiffTransformerChatClient.Load(result.FinalModel!, template: ChatTemplate.Plain);
ChatResponse reply = await client.GetResponseAsync("k=4 c=9 f=2 a=7 | a?", new ChatOptions { Temperature = 0, MaxOutputTokens = 1 });
Console.WriteLine($"recall {result.Task["recall_acc"]:P0} after {result.Step} steps; k=4 c=9 f=2 a=7 | a? → {reply.Text}");
