namespace Edge.Onnx.Models;

/// <summary>Default locations, the same as the scripts use: <c>$EDGE_CACHE</c> (else <c>$XDG_CACHE_HOME/edge</c>, else <c>~/.cache/edge</c>).</summary>
public static class ModelPaths
{
    public static string CacheDirectory
    {
        get
        {
            var edge = Environment.GetEnvironmentVariable("EDGE_CACHE");
            if (!string.IsNullOrEmpty(edge))
            {
                return edge;
            }

            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var root = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : xdg;
            return Path.Combine(root, "edge");
        }
    }

    /// <summary>Where <c>edge model build</c> writes and the scorer reads: <c>$EDGE_MODELS</c>, else <c>$EDGE_CACHE/models</c>.</summary>
    public static string ModelDirectory
    {
        get
        {
            var models = Environment.GetEnvironmentVariable("EDGE_MODELS");
            return string.IsNullOrEmpty(models) ? Path.Combine(CacheDirectory, "models") : models;
        }
    }

    /// <summary>The pinned npm tarball of the source models (where <c>./edge setup</c> keeps it).</summary>
    public static string SourceTarball => Path.Combine(CacheDirectory, "npm", ModelSource.TarballFileName);

    /// <summary>Real face photographs gathered by <c>scripts/fetch-faces.sh</c>.</summary>
    public static string FacesDirectory => Path.Combine(CacheDirectory, "faces");
}
