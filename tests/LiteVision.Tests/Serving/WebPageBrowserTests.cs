using System.Globalization;
using LiteVision.Inference;
using LiteVision.Serving;
using Microsoft.Playwright;

namespace LiteVision.Tests.Serving;

/// <summary>The system Chromium that the browser tests drive (Debian's <c>chromium</c>; tools/test.sh installs it).</summary>
internal static class SystemChromium
{
    public const string Path = "/usr/bin/chromium";

    /// <summary>Why browser tests are skipped, or null when they run.</summary>
    public static string? SkipReason => File.Exists(Path)
        ? null
        : $"{Path} is absent: install Debian's chromium (tools/test.sh does) to run the web page's browser test.";
}

/// <summary>A fact that needs the system Chromium: skipped, with the reason printed, where it is absent.</summary>
internal sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (SystemChromium.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>The page at <c>/</c> in a real headless Chromium, driven by Playwright with the system browser (no download).</summary>
public sealed class WebPageBrowserTests(ServingFixture fixture) : IClassFixture<ServingFixture>
{
    [ChromiumFact]
    public async Task Page_UploadsAnImage_AndShowsTheTop5TheApiReturns_WithProportionalBars()
    {
        await using var server = new InferenceServer(InferenceServer.Discover(fixture.Repository), new ServerOptions { Port = 0 });
        await server.StartAsync();
        using var client = new InferenceClient(server.Url);
        IReadOnlyList<Prediction> expected = await client.ClassifyAsync("alpha", File.ReadAllBytes(fixture.ImagePath), topK: 5, version: "2");

        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = SystemChromium.Path, Headless = true, Args = ["--no-sandbox"],
        });
        IPage page = await browser.NewPageAsync();
        var pageErrors = new List<string>();
        page.PageError += (_, message) => pageErrors.Add(message);
        await page.GotoAsync(server.Url.ToString());

        // The model list comes from the repository index; choosing a version shows its card.
        ILocator options = page.Locator("#model option");
        await options.Nth(2).WaitForAsync(new() { State = WaitForSelectorState.Attached });
        Assert.Equal(["alpha/versions/1", "alpha/versions/2", "beta/versions/1"],
            await options.EvaluateAllAsync<string[]>("options => options.map(o => o.value)"));
        await page.SelectOptionAsync("#model", "alpha/versions/2");
        await Assertions.Expect(page.Locator("#card")).ToContainTextAsync($"{ServingFixture.Size}x{ServingFixture.Size}");

        await page.SetInputFilesAsync("#file", fixture.ImagePath);
        await page.Locator("#predictions[data-state=done]").WaitForAsync(new() { Timeout = 30_000 });
        Assert.Equal("", await page.Locator("#error").TextContentAsync());
        Assert.Matches(@"^Latency: \d+\.\d ms$", await page.Locator("#latency").TextContentAsync());

        ILocator rows = page.Locator("#predictions .prediction");
        Assert.Equal(5, await rows.CountAsync());
        for (int i = 0; i < 5; i++)
        {
            ILocator row = rows.Nth(i);
            Prediction want = expected[i];
            Assert.Equal(want.Index.ToString(CultureInfo.InvariantCulture), await row.GetAttributeAsync("data-index"));
            Assert.Equal(want.Label, await row.GetAttributeAsync("data-label"));
            Assert.Equal(want.Label, await row.Locator(".label").TextContentAsync());
            double probability = double.Parse((await row.GetAttributeAsync("data-probability"))!, CultureInfo.InvariantCulture);
            Assert.Equal(want.Probability, probability, 6);
            Assert.Equal((want.Probability * 100).ToString("0.00", CultureInfo.InvariantCulture) + " %", await row.Locator(".probability").TextContentAsync());
            // The bar fills the probability's share of its track.
            double track = await row.Locator(".track").EvaluateAsync<double>("e => e.getBoundingClientRect().width");
            double bar = await row.Locator(".bar").EvaluateAsync<double>("e => e.getBoundingClientRect().width");
            Assert.True(Math.Abs(bar - want.Probability * track) < 1, $"row {i}: bar {bar} px of {track} px for probability {want.Probability}");
        }
        Assert.Empty(pageErrors);
    }
}
