namespace DebertaSharp.Tokenization;

/// <summary>
/// What the DeBERTa tokenizers share: HF-style splitting on added tokens, the <c>[CLS] A [SEP] B [SEP]</c> template,
/// truncation, padding, batching and decoding. Subclasses only turn plain text into pieces and pieces back into text.
/// </summary>
/// <remarks>Instances are immutable after construction and safe to use from several threads.</remarks>
public abstract class DebertaTokenizerBase
{
    /// <summary>Batches of at least this many texts are encoded in parallel.</summary>
    private const int ParallelBatchSize = 64;

    private readonly AddedTokenSplitter _splitter;
    private readonly Dictionary<string, AddedToken> _addedByContent;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly HashSet<string> _specialContents;

    private protected DebertaTokenizerBase(ResolvedTokens tokens, TokenizerConfig config, string defaultPad)
    {
        AddedTokens = tokens.AddedTokens;
        AllSpecialIds = tokens.SpecialIds;
        ModelMaxLength = config.ModelMaxLength;
        CleanUpTokenizationSpaces = config.CleanUpTokenizationSpaces;
        _splitter = new AddedTokenSplitter(tokens.AddedTokens);
        _addedByContent = tokens.AddedTokens.ToDictionary(t => t.Content, StringComparer.Ordinal);
        _addedById = [];
        foreach (AddedToken t in tokens.AddedTokens)
        {
            _addedById.TryAdd(t.Id, t);
        }

        AddedToken Role(string role) => tokens.ByRole.TryGetValue(role, out AddedToken? t)
            ? t
            : throw new TokenizerException($"{config.Directory}: the tokenizer has no {role}.");

        Cls = Role("cls_token");
        Sep = Role("sep_token");
        Pad = tokens.ByRole.TryGetValue("pad_token", out AddedToken? pad) ? pad : new AddedToken(defaultPad, 0) { Special = true };
        Unk = Role("unk_token");
        Mask = tokens.ByRole.TryGetValue("mask_token", out AddedToken? mask) ? mask : null;
        _specialContents = new HashSet<string>(tokens.ByRole.Values.Select(t => t.Content), StringComparer.Ordinal);
    }

    /// <summary>The classifier token that starts every encoding (<c>[CLS]</c>).</summary>
    public AddedToken Cls { get; }

    /// <summary>The separator after each sequence (<c>[SEP]</c>).</summary>
    public AddedToken Sep { get; }

    /// <summary>The padding token (<c>[PAD]</c>); its id fills padded positions.</summary>
    public AddedToken Pad { get; }

    /// <summary>The unknown token (<c>[UNK]</c>).</summary>
    public AddedToken Unk { get; }

    /// <summary>The mask token (<c>[MASK]</c>), or <c>null</c> if the checkpoint has none.</summary>
    public AddedToken? Mask { get; }

    /// <summary>Id of <see cref="Cls"/>.</summary>
    public int ClsTokenId => Cls.Id;

    /// <summary>Id of <see cref="Sep"/>.</summary>
    public int SepTokenId => Sep.Id;

    /// <summary>Id of <see cref="Pad"/>.</summary>
    public int PadTokenId => Pad.Id;

    /// <summary>Id of <see cref="Unk"/>.</summary>
    public int UnkTokenId => Unk.Id;

    /// <summary>Id of <see cref="Mask"/>, or <c>null</c>.</summary>
    public int? MaskTokenId => Mask?.Id;

    /// <summary>Every added token (special tokens included), matched verbatim in input text.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>Ids of the named special tokens (HF <c>all_special_ids</c>), skipped by <c>Decode(ids, skipSpecialTokens: true)</c>.</summary>
    public IReadOnlySet<int> AllSpecialIds { get; }

    /// <summary><c>model_max_length</c> from <c>tokenizer_config.json</c>; <c>null</c> means no limit (HF writes int(1e30)).</summary>
    public int? ModelMaxLength { get; }

    /// <summary>Whether <see cref="Decode"/> applies HF's <c>clean_up_tokenization</c>.</summary>
    public bool CleanUpTokenizationSpaces { get; }

    /// <summary>Number of distinct tokens, added tokens included (HF <c>len(tokenizer)</c>).</summary>
    public abstract int VocabularySize { get; }

    /// <summary>Number of tokens the DeBERTa template adds: 2 for a single text, 3 for a pair (a <see cref="DebertaTokenizerFast"/> adds what its file's post-processor adds).</summary>
    /// <param name="pair">Whether the input is a pair.</param>
    public static int NumSpecialTokensToAdd(bool pair) => pair ? 3 : 2;

    /// <summary>The pieces of <paramref name="text"/> without template tokens (HF <c>tokenize()</c>).</summary>
    /// <exception cref="TokenizerException"><paramref name="text"/> is null.</exception>
    public IReadOnlyList<string> Tokenize(string text) => TokenizeToPieces(text, nameof(text)).ConvertAll(p => p.Token);

    /// <summary>The id of a token string: an added token, a vocabulary piece, else <see cref="UnkTokenId"/>.</summary>
    /// <param name="token">A token string, e.g. <c>"▁the"</c> or <c>"[MASK]"</c>.</param>
    public int TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _addedByContent.TryGetValue(token, out AddedToken? added) ? added.Id : VocabularyId(token) ?? UnkTokenId;
    }

    /// <summary>The token string of an id.</summary>
    /// <param name="id">A token id.</param>
    /// <exception cref="TokenizerException">The id is outside the vocabulary and is no added token.</exception>
    public string IdToToken(int id)
    {
        if (_addedById.TryGetValue(id, out AddedToken? added))
        {
            return added.Content;
        }

        return VocabularyPiece(id)
            ?? throw new TokenizerException($"Token id {id} is outside the vocabulary (0..{VocabularySize - 1}) and is no added token.");
    }

    /// <summary>Encodes one text (HF <c>tokenizer(text, ...)</c>).</summary>
    /// <param name="text">The text.</param>
    /// <param name="options">Truncation, padding and special-token options; <c>null</c> for the defaults.</param>
    /// <exception cref="TokenizerException"><paramref name="text"/> is null, or the options are invalid.</exception>
    public TokenEncoding Encode(string text, EncodeOptions? options = null) => Encode(text, null, options);

    /// <summary>Encodes a text or a text pair (HF <c>tokenizer(text, text_pair, ...)</c>).</summary>
    /// <param name="text">The first text.</param>
    /// <param name="textPair">The second text, or <c>null</c> for a single text.</param>
    /// <param name="options">Truncation, padding and special-token options; <c>null</c> for the defaults.</param>
    /// <exception cref="TokenizerException"><paramref name="text"/> is null, or the options are invalid.</exception>
    public TokenEncoding Encode(string text, string? textPair, EncodeOptions? options = null)
    {
        options ??= EncodeOptions.Default;
        int? maxLength = CheckOptions(options);
        TokenEncoding encoding = EncodeUnpadded(text, textPair, options, maxLength, "text", "textPair");
        if (options.Padding == PaddingStrategy.MaxLength && maxLength is int target)
        {
            encoding = PadTo(encoding, target, options.PaddingSide);
        }

        return encoding;
    }

    /// <summary>Encodes several texts (HF <c>tokenizer([t1, t2, ...], ...)</c>); <see cref="PaddingStrategy.Longest"/> pads across the batch.</summary>
    /// <param name="texts">The texts.</param>
    /// <param name="options">Truncation, padding and special-token options; <c>null</c> for the defaults.</param>
    /// <exception cref="TokenizerException">A text is null, or the options are invalid.</exception>
    public BatchEncoding EncodeBatch(IReadOnlyList<string> texts, EncodeOptions? options = null) => EncodeBatch(texts, null, options);

    /// <summary>
    /// Encodes several texts or text pairs; <see cref="PaddingStrategy.Longest"/> pads across the batch. Batches of 64
    /// texts or more are encoded on all cores (the result is the same as one by one).
    /// </summary>
    /// <param name="texts">The first texts.</param>
    /// <param name="textPairs">The second texts (same count; an entry may be null for a single text), or <c>null</c>.</param>
    /// <param name="options">Truncation, padding and special-token options; <c>null</c> for the defaults.</param>
    /// <exception cref="TokenizerException">A text is null, the counts differ, or the options are invalid.</exception>
    public BatchEncoding EncodeBatch(IReadOnlyList<string> texts, IReadOnlyList<string?>? textPairs, EncodeOptions? options = null)
    {
        if (texts is null)
        {
            throw new TokenizerException("The list of texts is null.");
        }

        if (textPairs is not null && textPairs.Count != texts.Count)
        {
            throw new TokenizerException($"Got {texts.Count} texts but {textPairs.Count} text pairs; the counts must match.");
        }

        options ??= EncodeOptions.Default;
        int? maxLength = CheckOptions(options);
        var encodings = new TokenEncoding[texts.Count];
        if (texts.Count < ParallelBatchSize || Environment.ProcessorCount == 1)
        {
            for (int i = 0; i < texts.Count; i++)
            {
                encodings[i] = EncodeUnpadded(texts[i], textPairs?[i], options, maxLength, $"texts[{i}]", $"textPairs[{i}]");
            }
        }
        else
        {
            // Texts are independent and the tokenizer is immutable: encode on all cores, then report the first failure by index.
            var failures = new Exception?[texts.Count];
            Parallel.For(0, texts.Count, i =>
            {
                try
                {
                    encodings[i] = EncodeUnpadded(texts[i], textPairs?[i], options, maxLength, $"texts[{i}]", $"textPairs[{i}]");
                }
                catch (Exception ex) when (ex is TokenizerException)
                {
                    failures[i] = ex;
                }
            });
            if (Array.Find(failures, f => f is not null) is Exception failure)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }
        }

        int? target = options.Padding switch
        {
            PaddingStrategy.Longest => encodings.Length == 0 ? 0 : encodings.Max(e => e.Length),
            PaddingStrategy.MaxLength => maxLength,
            _ => null,
        };
        if (target is int length)
        {
            for (int i = 0; i < encodings.Length; i++)
            {
                encodings[i] = PadTo(encodings[i], length, options.PaddingSide);
            }
        }

        return new BatchEncoding(encodings);
    }

    /// <summary>Turns ids back into text (HF <c>decode</c>).</summary>
    /// <param name="ids">Token ids.</param>
    /// <param name="skipSpecialTokens">Leave out the named special tokens (<see cref="AllSpecialIds"/>).</param>
    /// <exception cref="TokenizerException">An id is outside the vocabulary.</exception>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (skipSpecialTokens && AllSpecialIds.Contains(id))
            {
                continue;
            }

            tokens.Add(IdToToken(id));
        }

        string text = ConvertTokensToString(tokens);
        return CleanUpTokenizationSpaces ? TextUtilities.CleanUpTokenization(text) : text;
    }

    /// <summary>Whether a token string is one of the named special tokens (HF <c>all_special_tokens</c>).</summary>
    private protected bool IsSpecialTokenString(string token) => _specialContents.Contains(token);

    /// <summary>Tokenizes text that holds no added token, appending pieces with offsets into <paramref name="text"/>.</summary>
    /// <param name="text">The whole (sanitized) input string.</param>
    /// <param name="start">Start of the stretch to tokenize.</param>
    /// <param name="end">End of the stretch to tokenize.</param>
    /// <param name="output">Receives the pieces.</param>
    private protected abstract void TokenizeText(string text, int start, int end, List<TokenPiece> output);

    /// <summary>
    /// Rewrites the whole input before added tokens are split out (HF's <c>do_lower_case</c> step of <c>tokenize</c>).
    /// <paramref name="origin"/> maps each UTF-16 unit of the result to the input unit it came from, or is <c>null</c>
    /// when positions are unchanged.
    /// </summary>
    private protected virtual string PrepareText(string text, out int[]? origin)
    {
        origin = null;
        return text;
    }

    /// <summary>Joins token strings into text (HF <c>convert_tokens_to_string</c>).</summary>
    private protected abstract string ConvertTokensToString(IReadOnlyList<string> tokens);

    /// <summary>Id of a model-vocabulary piece, or <c>null</c>.</summary>
    private protected abstract int? VocabularyId(string piece);

    /// <summary>Model-vocabulary piece of an id, or <c>null</c>.</summary>
    private protected abstract string? VocabularyPiece(int id);

    private List<TokenPiece> TokenizeToPieces(string? text, string argumentName)
    {
        if (text is null)
        {
            throw new TokenizerException($"The input {argumentName} is null.");
        }

        text = TextUtilities.ReplaceLoneSurrogates(text);
        var pieces = new List<TokenPiece>(Math.Min((text.Length / 4) + 4, 1024)); // about one piece per 4 chars of text
        TokenizeSequence(text, pieces);
        return pieces;
    }

    /// <summary>
    /// Turns one (sanitized) text into pieces with spans into it. The slow tokenizers prepare the text
    /// (<see cref="PrepareText"/>), split on added tokens HF's slow way and tokenize the text between them; the
    /// tokenizer.json one runs its own pipeline.
    /// </summary>
    private protected virtual void TokenizeSequence(string text, List<TokenPiece> pieces)
    {
        string work = PrepareText(text, out int[]? origin);
        foreach (TextSegment segment in _splitter.Split(work))
        {
            if (segment.Token is AddedToken token)
            {
                pieces.Add(new TokenPiece(token.Id, token.Content, segment.Start, segment.End));
            }
            else
            {
                TokenizeText(work, segment.Start, segment.End, pieces);
            }
        }

        if (origin is not null)
        {
            // Spans of the prepared text → spans of the input: a start is the unit it came from, an end follows the unit before it.
            for (int i = 0; i < pieces.Count; i++)
            {
                TokenPiece p = pieces[i];
                int pieceStart = p.Start < origin.Length ? origin[p.Start] : text.Length;
                int pieceEnd = p.End == 0 ? 0 : origin[p.End - 1] + 1;
                pieces[i] = p with { Start = pieceStart, End = Math.Max(pieceStart, pieceEnd) };
            }
        }
    }

    /// <summary>Number of tokens the template adds to a single text or a pair (2 / 3 for the slow DeBERTa template).</summary>
    private protected virtual int SpecialTokenCount(bool pair) => NumSpecialTokensToAdd(pair);

    /// <summary>Truncates the sequences in place by <paramref name="toRemove"/> tokens; returns the number removed.</summary>
    private protected virtual int TruncateSequences(List<TokenPiece> first, List<TokenPiece>? second, int toRemove, TruncationStrategy strategy) =>
        Truncate(first, second, toRemove, strategy);

    /// <summary>Builds the encoding of the (truncated) sequences: the template, type ids, masks.</summary>
    private protected virtual TokenEncoding BuildEncoding(List<TokenPiece> first, List<TokenPiece>? second, bool addSpecial, int removed) =>
        Build(first, second, addSpecial, removed);

    private int? CheckOptions(EncodeOptions options)
    {
        if (options.MaxLength is int requested && requested <= 0)
        {
            throw new TokenizerException($"max_length must be positive, not {requested}.");
        }

        return options.MaxLength ?? ModelMaxLength;
    }

    private TokenEncoding EncodeUnpadded(string? text, string? textPair, EncodeOptions options, int? maxLength, string textName, string pairName)
    {
        List<TokenPiece> first = TokenizeToPieces(text, textName);
        List<TokenPiece>? second = textPair is null ? null : TokenizeToPieces(textPair, pairName);
        bool pair = second is not null;
        int specials = options.AddSpecialTokens ? SpecialTokenCount(pair) : 0;
        int removed = 0;

        TruncationStrategy strategy = options.EffectiveTruncation;
        if (strategy != TruncationStrategy.DoNotTruncate && maxLength is int limit)
        {
            if (limit < specials)
            {
                throw new TokenizerException(
                    $"max_length {limit} is smaller than the {specials} special tokens a {(pair ? "pair" : "single text")} needs.");
            }

            removed = TruncateSequences(first, second, first.Count + (second?.Count ?? 0) + specials - limit, strategy);
        }

        return BuildEncoding(first, second, options.AddSpecialTokens, removed);
    }

    /// <summary>HF 4.44 <c>truncate_sequences</c> (right side, stride 0). Returns the number of tokens removed.</summary>
    private static int Truncate(List<TokenPiece> first, List<TokenPiece>? second, int toRemove, TruncationStrategy strategy)
    {
        if (toRemove <= 0)
        {
            return 0;
        }

        if (strategy == TruncationStrategy.OnlyFirst || (strategy == TruncationStrategy.LongestFirst && second is null))
        {
            // HF only logs an error when the first sequence is too short, and cuts nothing.
            if (first.Count <= toRemove)
            {
                return 0;
            }

            first.RemoveRange(first.Count - toRemove, toRemove);
            return toRemove;
        }

        if (strategy == TruncationStrategy.LongestFirst && second is not null)
        {
            int a = first.Count, b = second.Count;
            for (int i = 0; i < toRemove; i++)
            {
                if (a > b)
                {
                    a--;
                }
                else if (b > 0)
                {
                    b--;
                }
            }

            int removed = first.Count - a + second.Count - b;
            first.RemoveRange(a, first.Count - a);
            second.RemoveRange(b, second.Count - b);
            return removed;
        }

        if (strategy == TruncationStrategy.OnlySecond && second is not null && second.Count > toRemove)
        {
            second.RemoveRange(second.Count - toRemove, toRemove);
            return toRemove;
        }

        return 0;
    }

    private TokenEncoding Build(List<TokenPiece> first, List<TokenPiece>? second, bool addSpecial, int removed)
    {
        int n = first.Count + (second?.Count ?? 0) + (addSpecial ? NumSpecialTokensToAdd(second is not null) : 0);
        var ids = new int[n];
        var types = new int[n];
        var mask = new int[n];
        var special = new int[n];
        var offsets = new TokenOffset[n];
        var tokens = new string[n];
        var sequence = new int?[n];
        int k = 0;

        void Template(AddedToken token, int type)
        {
            ids[k] = token.Id;
            types[k] = type;
            mask[k] = 1;
            special[k] = 1;
            tokens[k] = token.Content;
            k++;
        }

        void Sequence(List<TokenPiece> pieces, int type, int sequenceId)
        {
            foreach (TokenPiece p in pieces)
            {
                ids[k] = p.Id;
                types[k] = type;
                mask[k] = 1;
                special[k] = AllSpecialIds.Contains(p.Id) ? 1 : 0;
                offsets[k] = new TokenOffset(p.Start, p.End);
                tokens[k] = p.Token;
                sequence[k] = sequenceId;
                k++;
            }
        }

        if (addSpecial)
        {
            Template(Cls, 0);
        }

        Sequence(first, 0, 0);
        if (addSpecial)
        {
            Template(Sep, 0);
        }

        if (second is not null)
        {
            // Without special tokens HF types the pair 0 as well.
            int type = addSpecial ? 1 : 0;
            Sequence(second, type, 1);
            if (addSpecial)
            {
                Template(Sep, type);
            }
        }

        return new TokenEncoding
        {
            InputIds = ids,
            TokenTypeIds = types,
            AttentionMask = mask,
            SpecialTokensMask = special,
            Offsets = offsets,
            Tokens = tokens,
            SequenceIds = sequence,
            NumTruncatedTokens = removed,
        };
    }

    private TokenEncoding PadTo(TokenEncoding encoding, int length, PaddingSide side)
    {
        int missing = length - encoding.Length;
        if (missing <= 0)
        {
            return encoding;
        }

        static T[] Padded<T>(IReadOnlyList<T> values, T fill, int missing, PaddingSide side)
        {
            var result = new T[values.Count + missing];
            int offset = side == PaddingSide.Left ? missing : 0;
            int fillStart = side == PaddingSide.Left ? 0 : values.Count;
            for (int i = 0; i < values.Count; i++)
            {
                result[offset + i] = values[i];
            }

            for (int i = 0; i < missing; i++)
            {
                result[fillStart + i] = fill;
            }

            return result;
        }

        return encoding with
        {
            InputIds = Padded(encoding.InputIds, PadTokenId, missing, side),
            TokenTypeIds = Padded(encoding.TokenTypeIds, 0, missing, side),
            AttentionMask = Padded(encoding.AttentionMask, 0, missing, side),
            SpecialTokensMask = Padded(encoding.SpecialTokensMask, 1, missing, side),
            Offsets = Padded(encoding.Offsets, default(TokenOffset), missing, side),
            Tokens = Padded(encoding.Tokens, Pad.Content, missing, side),
            SequenceIds = Padded(encoding.SequenceIds, (int?)null, missing, side),
        };
    }
}
