using static TorchSharp.torch;

namespace DiffTransformer.IO;

/// <summary>Saves and loads any module's state dict as safetensors, checking keys, shapes and dtypes first.</summary>
public static class ModuleWeights
{
    /// <summary>Writes the module's state dict (keys in registration order) and metadata; atomic.</summary>
    public static void Save(nn.Module module, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var sd = module.state_dict();
        SafeTensorsFile.Save(path, sd, metadata);
    }

    /// <summary>
    /// Loads a safetensors file into the module. Everything is checked before any weight changes:
    /// missing keys, unexpected keys (when <paramref name="strict"/>), shapes and dtypes, each reported
    /// with the file and the key. Returns the file's metadata.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Load(nn.Module module, string path, bool strict = true)
    {
        using var file = SafeTensorsFile.Open(path);
        var expected = module.state_dict();
        var missing = expected.Keys.Where(k => !file.Tensors.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new SafeTensorsException($"{path}: missing key{(missing.Count > 1 ? "s" : "")} {Quote(missing)} (the file has {file.Tensors.Count} tensors: {Quote(file.Tensors.Keys.Order(StringComparer.Ordinal).ToList())})");
        if (strict)
        {
            var extra = file.Tensors.Keys.Where(k => !expected.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
            if (extra.Count > 0)
                throw new SafeTensorsException($"{path}: unexpected key{(extra.Count > 1 ? "s" : "")} {Quote(extra)} not in the model (load with strict = false to ignore)");
        }
        foreach (var (key, target) in expected)
        {
            var info = file.Tensors[key];
            if (!info.Shape.SequenceEqual(target.shape))
                throw new SafeTensorsException($"{path}: key '{key}' has shape {info.ShapeText}, the model expects [{string.Join(", ", target.shape)}]");
            string want = SafeTensorsFile.DTypeName(target.dtype);
            if (info.DType != want)
                throw new SafeTensorsException($"{path}: key '{key}' is stored as {info.DType}, the model expects {want}");
        }
        using (no_grad())
        {
            foreach (var (key, target) in expected)
            {
                using var src = file.Read(key);
                target.copy_(src);
            }
        }
        return file.Metadata;
    }

    /// <summary>Keys quoted for a message, the first eight and how many more.</summary>
    internal static string Quote(IReadOnlyList<string> keys)
    {
        const int show = 8;
        var shown = string.Join(", ", keys.Take(show).Select(k => $"'{k}'"));
        return keys.Count > show ? $"{shown} and {keys.Count - show} more" : shown;
    }
}
