namespace DebertaSharp;

/// <summary>
/// Sets an <see cref="AsyncLocal{T}"/> for the current async flow until the result is disposed, which restores the value
/// it replaced (once; a second dispose does nothing): the one scoped-setting mechanism behind <c>Autocast.Enter</c> and
/// <c>HubOptions.Use</c>.
/// </summary>
internal static class AsyncLocalScope
{
    public static IDisposable Set<T>(AsyncLocal<T> local, T value)
    {
        var restore = new Restore<T>(local, local.Value);
        local.Value = value;
        return restore;
    }

    private sealed class Restore<T>(AsyncLocal<T> local, T? previous) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            local.Value = previous!;                                         // what the AsyncLocal held, null included
        }
    }
}
