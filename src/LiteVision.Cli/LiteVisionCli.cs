using System.CommandLine;
using LiteVision.Cli.Commands;

namespace LiteVision.Cli;

/// <summary>The <c>litevision</c> command line: builds the command tree and maps failures to exit codes.</summary>
public static class LiteVisionCli
{
    /// <summary>Exit code for success.</summary>
    public const int Success = 0;

    /// <summary>Exit code for a failure while doing the work (I/O, native errors).</summary>
    public const int Failure = 1;

    /// <summary>Exit code for bad input: unknown model, invalid option, unreadable file.</summary>
    public const int UsageError = 2;

    /// <summary>The command's name in usage lines and help: what users type.</summary>
    public const string CommandName = "litevision";

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given streams. Returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        // A plain command, not RootCommand: RootCommand takes its name from the executable (LiteVision.Cli), and the usage
        // lines must show the command users type.
        var root = new Command(CommandName, "LiteVision: build, inspect, train, export and run efficient image-classification CNNs.")
        {
            new System.CommandLine.Help.HelpOption(), new VersionOption(),
        };
        root.Subcommands.Add(ModelsCommand.Create(output));
        root.Subcommands.Add(SummaryCommand.Create(output));
        root.Subcommands.Add(CompareCommand.Create(output));
        root.Subcommands.Add(ExplainCommand.Create(output));
        root.Subcommands.Add(ExportCommand.Create(output));
        root.Subcommands.Add(BenchCommand.Create(output, error));
        root.Subcommands.Add(PredictCommand.Create(output, error));
        root.Subcommands.Add(TrainCommand.Create(output));
        root.Subcommands.Add(EvalCommand.Create(output, error));
        root.Subcommands.Add(ServeCommand.Create(output));
        var verbose = new Option<bool>("--verbose") { Description = "On an internal error, print the stack trace too.", Recursive = true };
        root.Options.Add(verbose);

        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine($"error: {DescribeParseErrors(root, args, parsed)}");
            return UsageError;
        }
        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        try
        {
            return parsed.Invoke(configuration);
        }
        catch (Exception exception) when (IsUsageError(exception))
        {
            error.WriteLine($"error: {MessageOf(exception)}");
            return UsageError;
        }
        // A failed, refused (offline) or hash-mismatched download is a failure of the work, said in one line.
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or System.Runtime.InteropServices.ExternalException
            or LiteVision.Weights.Hub.WeightsDownloadException)
        {
            error.WriteLine($"error: {exception.Message}");
            return Failure;
        }
        catch (Exception exception)
        {
            return ReportInternalError(exception, parsed.GetValue(verbose), error);
        }
    }

    /// <summary>
    /// The last resort for an exception no command expected (a bug, not bad input): one <c>internal error:</c> line
    /// instead of a crash dump, the stack trace only when <paramref name="verbose"/>. Returns <see cref="Failure"/>.
    /// </summary>
    public static int ReportInternalError(Exception exception, bool verbose, TextWriter error)
    {
        error.WriteLine($"internal error: {exception.GetType().Name}: {exception.Message.ReplaceLineEndings(" ")}" +
            (verbose ? "" : " (run with --verbose for the stack trace)"));
        if (verbose) error.WriteLine(exception.ToString());
        return Failure;
    }

    // ArgumentException appends " (Parameter 'name')", the name of a C# parameter the user never typed.
    private static string MessageOf(Exception exception) =>
        exception is ArgumentException { ParamName: { } name } argument
            ? argument.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal)
            : exception.Message;

    /// <summary>The parse errors as one line; a mistyped command gets the closest command's name.</summary>
    private static string DescribeParseErrors(Command root, string[] args, ParseResult parsed)
    {
        const string help = "see 'litevision --help' or 'litevision <command> --help'";
        if (parsed.CommandResult.Command == root && args.Length > 0 && !args[0].StartsWith('-') && root.Subcommands.All(c => c.Name != args[0]))
        {
            IReadOnlyList<string> closest = ModelOptionsBinder.Closest(root.Subcommands.Select(c => c.Name), args[0]);
            return $"unknown command '{args[0]}'; did you mean {string.Join(" or ", closest.Select(n => $"'{n}'"))}? ({help})";
        }
        // Several missing arguments of one command give the same message each: say it once.
        return $"{string.Join(" ", parsed.Errors.Select(e => e.Message).Distinct(StringComparer.Ordinal))} ({help})";
    }

    private static bool IsUsageError(Exception exception) =>
        exception is ArgumentException or KeyNotFoundException or FileNotFoundException or DirectoryNotFoundException
            or FormatException or InvalidDataException or UsageException or LiteVision.Tensors.DeviceUnavailableException or LiteVision.Onnx.OnnxExportException or LiteVision.Weights.CheckpointMismatchException;
}

/// <summary>Bad user input detected by a command; reported as one line with exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
