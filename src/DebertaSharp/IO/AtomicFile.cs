using System.Text;

namespace DebertaSharp.IO;

/// <summary>
/// Writes files so that readers see either the old content or the complete new content, never a torn file:
/// the data goes to a temporary file in the same folder, is flushed to disk, and is then renamed over the target.
/// </summary>
public static class AtomicFile
{
    /// <summary>Atomically replaces <paramref name="path"/> with <paramref name="text"/> encoded as UTF-8 without a byte-order mark.</summary>
    /// <exception cref="CheckpointException">The file cannot be written; the message names it.</exception>
    public static void WriteAllText(string path, string text) => WriteAllText(path, text, CheckpointError);

    /// <summary>
    /// <see cref="WriteAllText(string, string)"/> failing with the caller's exception type: <paramref name="error"/>
    /// gets a message naming the file and the IO error.
    /// </summary>
    internal static void WriteAllText(string path, string text, StrictJson.ErrorFactory error)
    {
        ArgumentNullException.ThrowIfNull(text);
        Write(path, stream => stream.Write(new UTF8Encoding(false).GetBytes(text)), error);
    }

    /// <summary>
    /// Creates a temporary file next to <paramref name="path"/>, lets <paramref name="write"/> fill it, flushes it to
    /// disk and renames it over <paramref name="path"/>. If <paramref name="write"/> throws, the temporary file is
    /// deleted, the target is left as it was, and the exception propagates. An IO failure becomes
    /// <paramref name="error"/>'s exception (a <see cref="CheckpointException"/> by default) naming the file.
    /// </summary>
    internal static void Write(string path, Action<FileStream> write, StrictJson.ErrorFactory? error = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        error ??= CheckpointError;
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? throw error($"Cannot write '{full}': it has no parent folder.", new IOException("No parent folder."));
        string temp = TemporaryFiles.Beside(full);
        bool renamed = false;
        try
        {
            try
            {
                using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                {
                    write(stream);
                    stream.Flush(flushToDisk: true);
                }
                File.Move(temp, full, overwrite: true);
                renamed = true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw error($"Cannot write '{full}': {e.Message}", e);
            }
        }
        finally
        {
            if (!renamed)
            {
                TryDelete(temp);
            }
        }
    }

    private static DebertaSharpException CheckpointError(string message, Exception inner) => new CheckpointException(message, inner);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the original error matters more than a leftover temporary file.
        }
    }
}
