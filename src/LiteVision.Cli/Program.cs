using LiteVision.Cli;
using LiteVision.Serving;

// Process-wide settings belong to the process, not to LiteVisionCli.Run (which tests call in their own process): the
// runtime reads this one once, before the first socket, so it is set before any command runs (downloads included).
if (args.Length > 0 && args[0] == "serve") InferenceServer.PreferInlineSocketCompletions();
return LiteVisionCli.Run(args, Console.Out, Console.Error);
