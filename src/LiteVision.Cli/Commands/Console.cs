using Spectre.Console;
using Spectre.Console.Rendering;

namespace LiteVision.Cli.Commands;

/// <summary>Renders Spectre.Console widgets to any <see cref="TextWriter"/> (the terminal, or a test's buffer).</summary>
internal static class Console
{
    public static void Render(TextWriter output, IRenderable renderable)
    {
        bool terminal = ReferenceEquals(output, System.Console.Out) && !System.Console.IsOutputRedirected;
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (!terminal) console.Profile.Width = 200;
        console.Write(renderable);
    }
}
