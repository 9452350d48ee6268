using LiteVision.Tests.Support;

namespace LiteVision.Tests.Fuzz;

/// <summary>A test class with its own temporary folder, removed after the class's tests.</summary>
public abstract class TempFolderTest : IDisposable
{
    private protected TempDirectory Folder { get; } = new();

    public void Dispose()
    {
        Folder.Dispose();
        GC.SuppressFinalize(this);
    }
}
