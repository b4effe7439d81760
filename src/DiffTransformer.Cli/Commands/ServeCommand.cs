using System.CommandLine;
using DiffTransformer.Cli.Common;
using DiffTransformer.Inference;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft serve</c>: an OpenAI-style HTTP endpoint on 127.0.0.1 over a saved model.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var cmd = new Command("serve", "Serve a saved model on 127.0.0.1 with OpenAI-style /v1/completions and /v1/chat/completions (streaming as server-sent events), concurrent requests decoded together, until Ctrl-C.");
        var model = new SavedModelOptions();
        var port = new Option<int>("--port") { Description = "TCP port on 127.0.0.1.", DefaultValueFactory = _ => 8000 };
        port.Validators.Add(result =>
        {
            int p = result.GetValueOrDefault<int>();
            if (p is < 1 or > 65535) result.AddError($"--port must be in 1–65535, got {p}");
        });
        var maxBatch = new Option<int>("--max-batch") { Description = "Requests decoded together at most (continuous batching); more wait their turn.", DefaultValueFactory = _ => new OpenAiServerOptions().MaxBatchSize };
        maxBatch.Validators.Add(result =>
        {
            int n = result.GetValueOrDefault<int>();
            if (n < 1) result.AddError($"--max-batch must be ≥ 1, got {n}");
        });
        var shutdown = new Option<double>("--shutdown-timeout") { Description = "On Ctrl-C, seconds open requests may run on before each is ended with a final chunk.", HelpName = "seconds", DefaultValueFactory = _ => new OpenAiServerOptions().ShutdownTimeout.TotalSeconds };
        shutdown.Validators.Add(result =>
        {
            double t = result.GetValueOrDefault<double>();
            if (!(t >= 0 && t <= 3600)) result.AddError($"--shutdown-timeout must be in 0–3600 seconds, got {t}");
        });
        var template = new Option<string>("--template") { Description = "How chat messages become a prompt: transcript (\"User: …\\nAssistant:\") or plain (texts concatenated).", DefaultValueFactory = _ => "transcript" };
        template.AcceptOnlyFromAmong("transcript", "plain");
        var sampling = new SamplingOptionSet();   // defaults for requests that leave a field out
        var runtime = new RuntimeOptions();
        model.AddTo(cmd);
        cmd.Add(port);
        cmd.Add(maxBatch);
        cmd.Add(shutdown);
        cmd.Add(template);
        sampling.AddTo(cmd);
        runtime.AddTo(cmd);
        CliAction.Set(cmd, parse =>
        {
            var stderr = parse.Stderr();
            runtime.ApplyThreads(parse);
            var defaults = sampling.Resolve(parse);
            var chatTemplate = parse.GetValue(template) == "plain" ? ChatTemplate.Plain : ChatTemplate.Transcript;
            var generator = model.Load(parse, runtime.GetKernel(parse));
            string id = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(model.Path(parse))));
            using var chat = new DiffTransformerChatClient(generator, id, chatTemplate, defaults, ownsGenerator: true);
            var options = new OpenAiServerOptions
            {
                Port = parse.GetValue(port),
                MaxBatchSize = parse.GetValue(maxBatch),
                ShutdownTimeout = TimeSpan.FromSeconds(parse.GetValue(shutdown)),
            };
            using var server = new OpenAiServer(chat, options, line => stderr.WriteLine($"serve: {line}"));
            server.Start();
            stderr.WriteLine($"serving '{id}' ({chat.Generator.Tokenizer.Name} tokenizer, context {chat.Generator.ContextLength}) on {server.Address} — " +
                             $"POST {server.Address}v1/completions, {server.Address}v1/chat/completions; Ctrl-C stops");
            using var interrupt = new Interrupt(line => stderr.WriteLine($"serve: {line}"),
                $"refusing new requests, ending open ones within {options.ShutdownTimeout.TotalSeconds:0.###} s");
            using (interrupt.Token.Register(server.Stop))
                server.Completion.GetAwaiter().GetResult();
            stderr.WriteLine("serve: stopped");
            return CliAction.Ok;
        });
        return cmd;
    }
}
