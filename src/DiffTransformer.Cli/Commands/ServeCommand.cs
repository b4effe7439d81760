using System.CommandLine;
using DiffTransformer.Cli.Common;
using DiffTransformer.Inference;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft serve</c>: an OpenAI-style HTTP endpoint on 127.0.0.1 over a saved model.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var cmd = new Command("serve", "Serve a saved model on 127.0.0.1 with OpenAI-style /v1/completions and /v1/chat/completions (streaming as server-sent events) until Ctrl-C.");
        var model = GenerateCommand.ModelOption();
        var tokenizer = GenerateCommand.TokenizerOption();
        var port = new Option<int>("--port") { Description = "TCP port on 127.0.0.1.", DefaultValueFactory = _ => 8000 };
        var template = new Option<string>("--template") { Description = "How chat messages become a prompt: transcript (\"User: …\\nAssistant:\") or plain (texts concatenated).", DefaultValueFactory = _ => "transcript" };
        template.AcceptOnlyFromAmong("transcript", "plain");
        var sampling = new GenerateCommand.SamplingOptionSet();   // defaults for requests that leave a field out
        cmd.Add(model);
        cmd.Add(tokenizer);
        cmd.Add(port);
        cmd.Add(template);
        sampling.AddTo(cmd);
        var runtime = BenchCommand.AddRuntimeOptions(cmd);
        CliAction.Set(cmd, parse =>
        {
            var kernel = BenchCommand.ApplyRuntime(parse, runtime);
            var defaults = sampling.Resolve(parse);
            var chatTemplate = parse.GetValue(template) == "plain" ? ChatTemplate.Plain : ChatTemplate.Transcript;
            string dir = parse.GetValue(model)!;
            var generator = TextGenerator.Load(dir, parse.GetValue(tokenizer), kernel);
            string id = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
            using var chat = new DiffTransformerChatClient(generator, id, chatTemplate, defaults, ownsGenerator: true);
            using var server = new OpenAiServer(chat, parse.GetValue(port), line => Console.Error.WriteLine($"serve: {line}"));
            server.Start();
            Console.Error.WriteLine($"serving '{id}' ({chat.Generator.Tokenizer.Name} tokenizer, context {chat.Generator.ContextLength}) on {server.Address} — " +
                                    $"POST {server.Address}v1/completions, {server.Address}v1/chat/completions; Ctrl-C stops");
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                server.Stop();
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                server.Completion.GetAwaiter().GetResult();
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            Console.Error.WriteLine("serve: stopped");
            return CliAction.Ok;
        });
        return cmd;
    }
}
