using LiteVision.Cli;

namespace LiteVision.Tests.Support;

/// <summary>Runs the litevision command in-process and captures its streams.</summary>
internal static class CliRunner
{
    public static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = LiteVisionCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
