using LiteVision.Cli;

return LiteVisionCli.Run(args, Console.Out, Console.Error);
