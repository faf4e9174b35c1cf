using Edge.Host.Models;
using Edge.Onnx.Models;
using Edge.Onnx.Runtime;

namespace Edge.Host.Tests.Models;

/// <summary>One full `edge model build` (fp32 + int8) from the pinned tarball and the face photographs of ./edge setup.</summary>
public sealed class BuiltModelsFixture : IDisposable
{
    public BuiltModelsFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("edge-host-models-").FullName;
        Environment = OrtEnvironment.Create();
        var tarball = ModelPaths.SourceTarball;
        if (!File.Exists(tarball))
        {
            throw new InvalidOperationException($"{tarball} is missing: run ./edge setup");
        }

        (Built, Report) = FaceModelBuild.Build(Directory, tarball, ModelPaths.FacesDirectory, int8: true, Environment, CancellationToken.None);
    }

    public string Directory { get; }

    public OrtEnvironment Environment { get; }

    public IReadOnlyList<BuiltModel> Built { get; }

    public Int8Report? Report { get; }

    public void Dispose()
    {
        Environment.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class BuiltModelsCollection : ICollectionFixture<BuiltModelsFixture>
{
    public const string Name = "built models";
}
