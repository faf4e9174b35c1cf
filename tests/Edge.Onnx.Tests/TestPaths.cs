using Edge.Onnx.Models;

namespace Edge.Onnx.Tests;

/// <summary>Repository and cache locations for tests that use the real source models and face photographs.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Fixture(string name) => Path.Combine(RepoRoot, "tests", "Edge.Onnx.Tests", "Fixtures", name);

    /// <summary>The pinned source tarball; fails with the fix when setup has not run.</summary>
    public static string SourceTarball
    {
        get
        {
            var path = ModelPaths.SourceTarball;
            return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: run ./edge setup");
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Edge.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Edge.sln not found above " + AppContext.BaseDirectory);
    }
}
