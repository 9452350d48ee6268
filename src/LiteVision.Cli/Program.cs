using LiteVision.Cli;
using LiteVision.Serving;

// Process-wide settings belong to the process, not to LiteVisionCli.Run (which tests call in their own process): the
// runtime reads this one once, before the first socket, so it is set before any command runs (downloads included).
if (args.FirstOrDefault(argument => !argument.StartsWith('-')) == "serve") InferenceServer.PreferInlineSocketCompletions();
return LiteVisionCli.Run(args, Console.Out, Console.Error);
