namespace DebertaSharp.Tokenization;

/// <summary>
/// The windows of a long input as the tokenizer's overflow gives them (HF's pipelines: <c>stride</c> +
/// <c>return_overflowing_tokens</c>; run_qa.py's <c>doc_stride</c>), and where each window sits among the tokens of the
/// windowed sequence. The one windowing of long inputs: the pipelines and the question-answering dataset read it.
/// </summary>
internal static class TokenWindows
{
    /// <summary>
    /// Every window of <paramref name="first"/> (and <paramref name="second"/>), pieces encoded without special tokens,
    /// cut to <paramref name="maxLength"/> tokens with the template, consecutive windows sharing <paramref name="stride"/> tokens.
    /// </summary>
    public static IReadOnlyList<TokenEncoding> Of(DebertaTokenizerBase tokenizer, TokenEncoding first, TokenEncoding? second, int maxLength, int stride)
    {
        TokenEncoding encoding = tokenizer.PrepareForModel(first, second, new EncodeOptions
        {
            MaxLength = maxLength,
            Truncation = second is null ? TruncationStrategy.LongestFirst : TruncationStrategy.OnlySecond,
            Stride = stride,
            ReturnOverflowingTokens = true,
        });
        return [encoding, .. encoding.Overflowing];
    }

    /// <summary>The first token index (in the untruncated sequence) and the token count of sequence <paramref name="sequence"/> in a window.</summary>
    public static (int Start, int Count) Span(TokenEncoding window, int sequence)
    {
        int start = -1, count = 0;
        for (int i = 0; i < window.Length; i++)
        {
            if (window.SequenceIds[i] == sequence)
            {
                if (start < 0)
                {
                    start = window.SourceTokenIndices![i]!.Value;
                }

                count++;
            }
        }

        return (Math.Max(start, 0), count);
    }
}
