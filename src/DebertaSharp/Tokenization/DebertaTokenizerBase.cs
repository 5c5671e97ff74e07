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
    private readonly IReadOnlyDictionary<string, AddedToken> _byRole;
    private readonly TokenizerConfig _config;
    private readonly IReadOnlyList<(string Name, byte[] Bytes)> _modelFiles;

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
        _byRole = tokens.ByRole;
        _config = config;
        _modelFiles = TokenizerFolderWriter.Snapshot(config.Directory, ModelFileNames);
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
    /// <returns>The encoding; with <see cref="EncodeOptions.ReturnOverflowingTokens"/> the further windows are in <see cref="TokenEncoding.Overflowing"/>.</returns>
    /// <exception cref="TokenizerException"><paramref name="text"/> is null, or the options are invalid.</exception>
    public TokenEncoding Encode(string text, string? textPair, EncodeOptions? options = null)
    {
        options ??= EncodeOptions.Default;
        int? maxLength = CheckOptions(options);
        PieceSequence first = TextSequence(text, "text");
        PieceSequence? second = textPair is null ? null : TextSequence(textPair, "textPair");
        return PadOne(Prepare(first, second, options, maxLength), options, maxLength);
    }

    /// <summary>
    /// Encodes input already split into words (HF <c>tokenizer(words, is_split_into_words=True)</c>): each word is tokenized
    /// on its own as if a space came before it, as HF does, and <see cref="TokenEncoding.WordIds"/> tells which word each
    /// token comes from. Offsets point into the word of the token.
    /// </summary>
    /// <param name="words">The words of the first sequence.</param>
    /// <param name="pairWords">The words of the second sequence, or <c>null</c>.</param>
    /// <param name="options">Truncation, padding and special-token options; <c>null</c> for the defaults.</param>
    /// <exception cref="TokenizerException">A list or word is null, or the options are invalid.</exception>
    public TokenEncoding EncodeWords(IReadOnlyList<string> words, IReadOnlyList<string>? pairWords = null, EncodeOptions? options = null)
    {
        options ??= EncodeOptions.Default;
        int? maxLength = CheckOptions(options);
        PieceSequence first = WordSequence(words, "words");
        PieceSequence? second = pairWords is null ? null : WordSequence(pairWords, "pairWords");
        return PadOne(Prepare(first, second, options, maxLength), options, maxLength);
    }

    /// <summary>
    /// Adds the template, truncates (and windows) and pads encodings made with <c>AddSpecialTokens = false</c> and no
    /// truncation or padding (HF <c>prepare_for_model</c>): the way to encode pieces tokenized once, or cut beforehand.
    /// </summary>
    /// <param name="first">Pieces of the first sequence.</param>
    /// <param name="second">Pieces of the second sequence, or <c>null</c>.</param>
    /// <param name="options">Truncation, padding and special-token options; <c>null</c> for the defaults.</param>
    /// <exception cref="TokenizerException">An input has template tokens, padding or overflow, or the options are invalid.</exception>
    public TokenEncoding PrepareForModel(TokenEncoding first, TokenEncoding? second = null, EncodeOptions? options = null)
    {
        options ??= EncodeOptions.Default;
        int? maxLength = CheckOptions(options);
        return PadOne(Prepare(PieceSequence.From(first, "first"), second is null ? null : PieceSequence.From(second, "second"), options, maxLength), options, maxLength);
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
    /// <returns>One encoding per input; with <see cref="EncodeOptions.ReturnOverflowingTokens"/> every window of every input, in input order, and <see cref="BatchEncoding.OverflowToSampleMapping"/>.</returns>
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

        return EncodeMany(
            texts.Count,
            i => (TextSequence(texts[i], $"texts[{i}]"), textPairs?[i] is string pair ? TextSequence(pair, $"textPairs[{i}]") : null),
            options ?? EncodeOptions.Default);
    }

    /// <summary>Encodes several inputs split into words (HF <c>is_split_into_words=True</c> on a batch); see <see cref="EncodeWords"/>.</summary>
    /// <param name="words">The words of each first sequence.</param>
    /// <param name="pairWords">The words of each second sequence (same count; an entry may be null), or <c>null</c>.</param>
    /// <param name="options">Truncation, padding and special-token options; <c>null</c> for the defaults.</param>
    /// <exception cref="TokenizerException">A list or word is null, the counts differ, or the options are invalid.</exception>
    public BatchEncoding EncodeWordsBatch(IReadOnlyList<IReadOnlyList<string>> words, IReadOnlyList<IReadOnlyList<string>?>? pairWords = null, EncodeOptions? options = null)
    {
        if (words is null)
        {
            throw new TokenizerException("The list of word lists is null.");
        }

        if (pairWords is not null && pairWords.Count != words.Count)
        {
            throw new TokenizerException($"Got {words.Count} word lists but {pairWords.Count} pair word lists; the counts must match.");
        }

        return EncodeMany(
            words.Count,
            i => (WordSequence(words[i], $"words[{i}]"), pairWords?[i] is IReadOnlyList<string> pair ? WordSequence(pair, $"pairWords[{i}]") : null),
            options ?? EncodeOptions.Default);
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

    /// <summary>
    /// Saves the tokenizer to <paramref name="folder"/> as transformers 4.44's <c>save_pretrained</c> does, so Python's
    /// <c>AutoTokenizer.from_pretrained</c> (and <see cref="AutoTokenizer.FromPretrained(string)"/>) load it back unchanged: the model
    /// files it was loaded from (read when it was loaded, so the source folder may be gone), <c>tokenizer_config.json</c>,
    /// <c>special_tokens_map.json</c> and <c>added_tokens.json</c>. Other files in the folder are left alone; each file is
    /// written to a temporary sibling first, and all are renamed into place only once all are written.
    /// </summary>
    /// <param name="folder">The folder; created if missing.</param>
    /// <exception cref="TokenizerException">A file cannot be written (the folder is named).</exception>
    public void SavePretrained(string folder)
    {
        if (string.IsNullOrEmpty(folder))
        {
            throw new TokenizerException("The folder to save the tokenizer to is empty.");
        }

        TokenizerFolderWriter.Write(folder, new TokenizerFolderWriter.State(
            _config.RawConfig,
            _byRole,
            _config.RolesWithFlags,
            _config.AdditionalSpecialTokens,
            AddedTokens,
            AddedTokens.Where(t => VocabularyPiece(t.Id) is null).ToList(),
            ModelMaxLength,
            CleanUpTokenizationSpaces,
            TokenizerClassName,
            _modelFiles));
    }

    /// <summary>The model files (in the folder the tokenizer is loaded from) that <see cref="SavePretrained"/> writes back; read once at construction.</summary>
    private protected abstract IReadOnlyList<string> ModelFileNames { get; }

    /// <summary>
    /// The <c>tokenizer_class</c> written by <see cref="SavePretrained"/>: the one it was loaded with, else HF's name of this
    /// class; without <c>Fast</c>, as <c>save_pretrained</c> writes it.
    /// </summary>
    private protected virtual string TokenizerClassName => TokenizerFolderWriter.ClassName(_config.TokenizerClass ?? GetType().Name);

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

    /// <summary>The text a word is tokenized as when input is split into words (HF <c>prepare_for_tokenization</c> with <c>is_split_into_words</c>): HF's DebertaV2Tokenizer puts a space before every word.</summary>
    private protected virtual string PrepareWord(string word) => " " + word;

    private PieceSequence TextSequence(string? text, string argumentName) => new(TokenizeToPieces(text, argumentName), null, null);

    private PieceSequence WordSequence(IReadOnlyList<string>? words, string argumentName)
    {
        if (words is null)
        {
            throw new TokenizerException($"The input {argumentName} is null.");
        }

        var pieces = new List<TokenPiece>();
        var wordIds = new List<int?>();
        for (int w = 0; w < words.Count; w++)
        {
            string word = words[w] ?? throw new TokenizerException($"The input {argumentName}[{w}] is null.");
            string prepared = PrepareWord(word);
            int shift = prepared.Length - word.Length;     // offsets point into the word, not the added prefix
            foreach (TokenPiece p in TokenizeToPieces(prepared, $"{argumentName}[{w}]"))
            {
                pieces.Add(p with { Start = Math.Max(0, p.Start - shift), End = Math.Max(0, p.End - shift) });
                wordIds.Add(w);
            }
        }

        return new PieceSequence(pieces, [.. wordIds], null);
    }

    /// <summary>Number of tokens the template adds to a single text or a pair (2 / 3 for the slow DeBERTa template).</summary>
    private protected virtual int SpecialTokenCount(bool pair) => NumSpecialTokensToAdd(pair);

    /// <summary>
    /// How many tokens each sequence keeps when the pair (or single text) is cut to <paramref name="room"/> tokens without
    /// overflow windows; <see cref="EncodeOptions.TruncationSide"/> then decides which end they are taken from.
    /// The default is HF's slow <c>truncate_sequences</c>.
    /// </summary>
    private protected virtual (int First, int? Second) KeptCounts(int n1, int? n2, int room, TruncationStrategy strategy)
    {
        var (a, b) = SlowCut(n1, n2, room, strategy, TruncationSide.Right);
        return (a[0].Count, b?[0].Count);
    }

    /// <summary>Builds the encoding of the (truncated) sequences: the template, type ids, masks.</summary>
    private protected virtual TokenEncoding BuildEncoding(List<TokenPiece> first, List<TokenPiece>? second, bool addSpecial, int removed) =>
        Build(first, second, addSpecial, removed);


    private int? CheckOptions(EncodeOptions options)
    {
        if (options.MaxLength is int requested && requested <= 0)
        {
            throw new TokenizerException($"max_length must be positive, not {requested}.");
        }

        if (options.Stride < 0)
        {
            throw new TokenizerException($"stride must be 0 or more, not {options.Stride}.");
        }

        if (options.PadToMultipleOf is int multiple && multiple <= 0)
        {
            throw new TokenizerException($"pad_to_multiple_of must be positive, not {multiple}.");
        }

        return options.MaxLength ?? ModelMaxLength;
    }

    /// <summary>Truncates (and windows), then applies the template: the main encoding with its overflow windows.</summary>
    private TokenEncoding Prepare(PieceSequence first, PieceSequence? second, EncodeOptions options, int? maxLength)
    {
        bool pair = second is not null;
        int specials = options.AddSpecialTokens ? SpecialTokenCount(pair) : 0;
        int total = first.Count + (second?.Count ?? 0);
        List<(int Start, int Count)> a = [(0, first.Count)];
        List<(int Start, int Count)>? b = pair ? [(0, second!.Count)] : null;

        TruncationStrategy strategy = options.EffectiveTruncation;
        if (strategy != TruncationStrategy.DoNotTruncate && maxLength is int limit)
        {
            if (limit < specials)
            {
                throw new TokenizerException(
                    $"max_length {limit} is smaller than the {specials} special tokens a {(pair ? "pair" : "single text")} needs.");
            }

            if (options.ReturnOverflowingTokens)
            {
                (a, b) = RustWindows(first.Count, second?.Count, limit - specials, strategy, options);
            }
            else if (total + specials > limit)
            {
                // The tokenizer's own cut decides how many tokens each sequence keeps; the side decides which ones.
                var (keepA, keepB) = KeptCounts(first.Count, second?.Count, limit - specials, strategy);
                (int, int) Kept(int length, int keep) => options.TruncationSide == TruncationSide.Left ? (length - keep, keep) : (0, keep);
                a = [Kept(first.Count, keepA)];
                b = second is null ? null : [Kept(second.Count, keepB!.Value)];
            }
        }

        TokenEncoding Window((int Start, int Count) x, (int Start, int Count)? y) => Annotate(
            BuildEncoding(first.Pieces.GetRange(x.Start, x.Count), y is { } r ? second!.Pieces.GetRange(r.Start, r.Count) : null,
                options.AddSpecialTokens, total - x.Count - (y?.Count ?? 0)),
            first, x, second, y);

        // Rust's Encoding::merge_with order: (A0,B0); each further window of A with B0 then with B's further windows; then A0 with them.
        var overflow = new List<TokenEncoding>();
        for (int i = 1; i < a.Count; i++)
        {
            if (b is null)
            {
                overflow.Add(Window(a[i], null));
                continue;
            }

            for (int j = 0; j < b.Count; j++)
            {
                overflow.Add(Window(a[i], b[j]));
            }
        }

        for (int j = 1; j < (b?.Count ?? 0); j++)
        {
            overflow.Add(Window(a[0], b![j]));
        }

        return Window(a[0], b?[0]) with { Overflowing = overflow };
    }

    /// <summary>
    /// HF 4.44 slow <c>truncate_sequences</c>: how many tokens each sequence keeps, as one range per sequence. A sequence
    /// too short for the cut is left whole (HF only logs an error).
    /// </summary>
    private static (List<(int Start, int Count)>, List<(int Start, int Count)>?) SlowCut(int n1, int? n2, int room, TruncationStrategy strategy, TruncationSide side)
    {
        int a = n1, b = n2 ?? 0;
        int toRemove = n1 + b - room;
        if (toRemove > 0)
        {
            if (strategy == TruncationStrategy.OnlyFirst || (strategy == TruncationStrategy.LongestFirst && n2 is null))
            {
                a = n1 > toRemove ? n1 - toRemove : n1;
            }
            else if (strategy == TruncationStrategy.LongestFirst)
            {
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
            }
            else if (strategy == TruncationStrategy.OnlySecond && n2 is int second && second > toRemove)
            {
                b = second - toRemove;
            }
        }

        (int, int) Kept(int length, int keep) => side == TruncationSide.Left ? (length - keep, keep) : (0, keep);
        return ([Kept(n1, a)], n2 is int m ? [Kept(m, b)] : null);
    }

    /// <summary>HF Rust <c>truncate_encodings</c>: the target length of each sequence, then its windows (<see cref="OverflowWindows"/>).</summary>
    private static (List<(int Start, int Count)>, List<(int Start, int Count)>?) RustWindows(int n1, int? n2, int room, TruncationStrategy strategy, EncodeOptions options)
    {
        List<(int Start, int Count)> Win(int length, int keep, string which) => OverflowWindows(length, keep, options.Stride, options.TruncationSide, which);
        if (room == 0)
        {
            return (Win(n1, 0, "first"), n2 is int m0 ? Win(m0, 0, "second") : null);
        }

        var (keepA, keepB) = RustKeep(n1, n2, room, strategy);
        return (Win(n1, keepA, n2 is null ? "text" : "first"), n2 is int b ? Win(b, keepB!.Value, "second") : null);
    }

    /// <summary>
    /// HF Rust <c>truncate_encodings</c>' target lengths: how many tokens each sequence keeps of <paramref name="room"/>
    /// (tokenizers 0.19–0.22). The one rule for the fast tokenizer's cut and for every tokenizer's overflow windows.
    /// </summary>
    /// <exception cref="TokenizerException">only_first / only_second and that sequence is too short for the cut, or only_second on a single text.</exception>
    private protected static (int First, int? Second) RustKeep(int n1, int? n2, int room, TruncationStrategy strategy)
    {
        int total = n1 + (n2 ?? 0);
        if (total <= room)
        {
            return (n1, n2);
        }

        int toRemove = total - room;
        if (strategy == TruncationStrategy.LongestFirst)
        {
            if (n2 is not int b)
            {
                return (n1 - toRemove, null);
            }

            // The shorter one stays whole if it leaves the longer one at least as much; else half the room each.
            int shortLength = Math.Min(n1, b), longLength;
            longLength = shortLength > room ? shortLength : Math.Max(shortLength, room - shortLength);
            if (shortLength + longLength > room)
            {
                shortLength = room / 2;
                longLength = shortLength + (room % 2);
            }

            return n1 > b ? (longLength, shortLength) : (shortLength, longLength);
        }

        bool cutSecond = strategy == TruncationStrategy.OnlySecond;
        if (cutSecond && n2 is null)
        {
            throw new TokenizerException("truncation only_second needs a text pair; this input is a single text.");
        }

        int target = cutSecond ? n2!.Value : n1;
        if (target <= toRemove)
        {
            throw new TokenizerException(
                $"The {(cutSecond ? "second" : "first")} sequence ({target} tokens) is too short to remove the {toRemove} that max_length needs " +
                $"({(cutSecond ? "only_second" : "only_first")}); raise max_length or choose another truncation strategy.");
        }

        return cutSecond ? (n1, target - toRemove) : (target - toRemove, n2);
    }

    /// <summary>
    /// The windows HF Rust's <c>Encoding::truncate(max_len, stride, direction)</c> cuts from a sequence of <paramref name="length"/>
    /// tokens, the kept one first: windows of <paramref name="keep"/> tokens, consecutive ones sharing <paramref name="stride"/>,
    /// from the start (right side) or the end (left side) until the other end is reached. The one windowing rule of the library.
    /// </summary>
    private static List<(int Start, int Count)> OverflowWindows(int length, int keep, int stride, TruncationSide side, string which)
    {
        if (keep >= length)
        {
            return [(0, length)];
        }

        if (keep == 0)
        {
            return [(0, 0), (0, length)];
        }

        if (stride >= keep)
        {
            throw new TokenizerException(
                $"stride {stride} must be smaller than the {keep} tokens each window keeps of the {which} sequence (max_length minus the special tokens and the other sequence).");
        }

        var windows = new List<(int Start, int Count)>();
        int step = keep - stride;
        if (side == TruncationSide.Right)
        {
            for (int start = 0; ; start += step)
            {
                int stop = Math.Min(start + keep, length);
                windows.Add((start, stop - start));
                if (stop == length)
                {
                    return windows;
                }
            }
        }

        for (int stop = length; ; stop -= step)
        {
            int start = Math.Max(0, stop - keep);
            windows.Add((start, stop - start));
            if (start == 0)
            {
                return windows;
            }
        }
    }

    private BatchEncoding EncodeMany(int count, Func<int, (PieceSequence First, PieceSequence? Second)> input, EncodeOptions options)
    {
        int? maxLength = CheckOptions(options);
        var encodings = new List<TokenEncoding>(count);
        List<int>? mapping = options.ReturnOverflowingTokens ? new List<int>(count) : null;
        var prepared = new TokenEncoding[count];
        if (count < ParallelBatchSize || Environment.ProcessorCount == 1)
        {
            for (int i = 0; i < count; i++)
            {
                var (first, second) = input(i);
                prepared[i] = Prepare(first, second, options, maxLength);
            }
        }
        else
        {
            // Inputs are independent and the tokenizer is immutable: encode on all cores, then report the first failure by index.
            var failures = new Exception?[count];
            Parallel.For(0, count, i =>
            {
                try
                {
                    var (first, second) = input(i);
                    prepared[i] = Prepare(first, second, options, maxLength);
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

        for (int i = 0; i < count; i++)
        {
            TokenEncoding encoding = prepared[i];
            encodings.Add(encoding.Overflowing.Count == 0 ? encoding : encoding with { Overflowing = [] });
            mapping?.Add(i);
            foreach (TokenEncoding window in encoding.Overflowing)
            {
                encodings.Add(window);
                mapping!.Add(i);
            }
        }

        if (PaddedLength(encodings, options, maxLength) is int length)
        {
            for (int i = 0; i < encodings.Count; i++)
            {
                encodings[i] = PadTo(encodings[i], length, options.PaddingSide);
            }
        }

        return new BatchEncoding(encodings, mapping);
    }

    private TokenEncoding PadOne(TokenEncoding encoding, EncodeOptions options, int? maxLength)
    {
        List<TokenEncoding> all = [encoding, .. encoding.Overflowing];
        if (PaddedLength(all, options, maxLength) is not int length)
        {
            return encoding;
        }

        return PadTo(encoding, length, options.PaddingSide) with
        {
            Overflowing = encoding.Overflowing.Select(w => PadTo(w, length, options.PaddingSide)).ToList(),
        };
    }

    /// <summary>The length HF's <c>_pad</c> pads to: the longest or max_length, rounded up to <c>pad_to_multiple_of</c>; <c>null</c> for no padding.</summary>
    private static int? PaddedLength(IReadOnlyList<TokenEncoding> encodings, EncodeOptions options, int? maxLength)
    {
        int? target = options.Padding switch
        {
            PaddingStrategy.Longest => encodings.Count == 0 ? 0 : encodings.Max(e => e.Length),
            PaddingStrategy.MaxLength => maxLength,
            _ => null,
        };
        if (target is int t && options.PadToMultipleOf is int multiple && t % multiple != 0)
        {
            target = ((t / multiple) + 1) * multiple;
        }

        return target;
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

    /// <summary>Adds what the template does not know: each token's word (input given as words) and its index in its untruncated sequence.</summary>
    private static TokenEncoding Annotate(TokenEncoding encoding, PieceSequence first, (int Start, int Count) a, PieceSequence? second, (int Start, int Count)? b)
    {
        int n = encoding.Length;
        var sources = new int?[n];
        int?[]? words = first.Words is not null || second?.Words is not null ? new int?[n] : null;
        int nextA = a.Start, nextB = b?.Start ?? 0;
        for (int i = 0; i < n; i++)
        {
            if (encoding.SequenceIds[i] is not int s)
            {
                continue;
            }

            PieceSequence seq = s == 0 ? first : second!;
            int index = s == 0 ? nextA++ : nextB++;
            sources[i] = seq.Sources?[index] ?? index;
            if (words is not null)
            {
                words[i] = seq.Words?[index];
            }
        }

        return encoding with { WordIds = words, SourceTokenIndices = sources };
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
            WordIds = encoding.WordIds is null ? null : Padded(encoding.WordIds, (int?)null, missing, side),
            SourceTokenIndices = encoding.SourceTokenIndices is null ? null : Padded(encoding.SourceTokenIndices, (int?)null, missing, side),
        };
    }
}
