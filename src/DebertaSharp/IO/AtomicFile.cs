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
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Write(path, stream => stream.Write(new UTF8Encoding(false).GetBytes(text)));
    }

    /// <summary>
    /// Creates a temporary file next to <paramref name="path"/>, lets <paramref name="write"/> fill it, flushes it to
    /// disk and renames it over <paramref name="path"/>. If <paramref name="write"/> throws, the temporary file is
    /// deleted, the target is left as it was, and the exception propagates.
    /// </summary>
    internal static void Write(string path, Action<FileStream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? throw new CheckpointException($"Cannot write '{full}': it has no parent folder.");
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
                throw new CheckpointException($"Cannot write '{full}': {e.Message}", e);
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
