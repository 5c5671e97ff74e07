using DebertaSharp.Tokenization.Fast;

namespace DebertaSharp.Tokenization;

/// <summary>
/// A tokenizer loaded from HF's <c>tokenizer.json</c> (a "fast" tokenizer, as transformers' <c>DebertaV2TokenizerFast</c> /
/// <c>DebertaTokenizerFast</c>), giving the ids, type ids, masks and offsets of HF's Rust <c>tokenizers</c> library.
/// </summary>
/// <remarks>
/// The class lives in <c>DebertaSharp.Tokenization</c> beside the slow tokenizers; its components (normalizers,
/// pre-tokenizers, models, post-processors, decoders, added vocabulary) are internal, in
/// <c>DebertaSharp.Tokenization.Fast</c>. Special-token roles (<c>[CLS]</c>, <c>[SEP]</c>, …) come from
/// <c>tokenizer_config.json</c> / <c>special_tokens_map.json</c> when present, else DeBERTa's defaults, and take their
/// ids from <c>tokenizer.json</c>. Truncation follows tokenizers 0.19–0.22 (tokenize everything, then cut): for a pair,
/// <see cref="TruncationStrategy.LongestFirst"/> gives the shorter sequence its whole length if it fits in half, and
/// otherwise both half, the odd token to the longer one. <c>special_tokens_mask</c> is 1 only for tokens the
/// post-processor added (an added token written in the text gets 0), as the Rust library reports it.
/// </remarks>
public sealed class DebertaTokenizerFast : DebertaTokenizerBase
{
    /// <summary>The file name of HF's serialized fast tokenizer.</summary>
    public const string FileName = "tokenizer.json";

    private readonly FastPipeline _pipeline;

    private DebertaTokenizerFast(FastPipeline pipeline, ResolvedTokens tokens, TokenizerConfig config, int vocabularySize)
        : base(tokens, config, "[PAD]")
    {
        _pipeline = pipeline;
        VocabularySize = vocabularySize;
    }

    /// <inheritdoc/>
    public override int VocabularySize { get; }

    /// <summary>
    /// The encode options the file's <c>truncation</c> and <c>padding</c> blocks stand for (what the Rust library's
    /// <c>encode</c> applies by itself), or <c>null</c> if it has neither. transformers ignores these blocks when
    /// called as <c>tokenizer(text)</c>, and so does <see cref="DebertaTokenizerBase.Encode(string, EncodeOptions?)"/>
    /// unless you pass these options.
    /// </summary>
    /// <exception cref="TokenizerException">A block uses a setting these options cannot express (stride, left truncation, pad_to_multiple_of, another pad id or pad type id).</exception>
    public EncodeOptions? FileEncodeOptions()
    {
        JsonTruncation? t = _pipeline.Truncation;
        JsonPadding? p = _pipeline.Padding;
        if (t is null && p is null)
        {
            return null;
        }

        if (t is not null && (t.Stride != 0 || t.Direction != "Right"))
        {
            throw new TokenizerException($"'{_pipeline.Path}': truncation with stride {t.Stride} and direction {t.Direction} cannot be expressed as EncodeOptions (stride 0, Right only).");
        }

        if (p is not null && (p.PadToMultipleOf is not null || p.PadId != PadTokenId || p.PadTypeId != 0))
        {
            throw new TokenizerException(
                $"'{_pipeline.Path}': padding with pad_to_multiple_of {p.PadToMultipleOf?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}, pad_id {p.PadId}, pad_type_id {p.PadTypeId} cannot be expressed as EncodeOptions (pad id {PadTokenId}, type 0).");
        }

        return new EncodeOptions
        {
            MaxLength = p?.FixedLength ?? t?.MaxLength,
            Truncation = t?.Strategy ?? TruncationStrategy.DoNotTruncate,
            Padding = p is null ? PaddingStrategy.DoNotPad : p.FixedLength is null ? PaddingStrategy.Longest : PaddingStrategy.MaxLength,
            PaddingSide = p?.Side ?? PaddingSide.Right,
        };
    }

    /// <summary>Loads <c>tokenizer.json</c> of a checkpoint folder (and the optional HF JSON files beside it).</summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <exception cref="TokenizerException">The folder or file is missing or corrupt, a component is not supported, or a required special token is not in the vocabulary.</exception>
    public static DebertaTokenizerFast FromPretrained(string directory)
    {
        directory = Hub.PretrainedSource.Resolve(directory, Hub.PretrainedFiles.Tokenizer);
        if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory))
        {
            throw new TokenizerException($"Tokenizer folder '{directory}' does not exist.");
        }

        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            throw new TokenizerException($"'{path}' is missing: a fast tokenizer needs HF's {FileName}.");
        }

        FastPipeline pipeline = FastPipeline.Load(path);
        TokenizerConfig config = TokenizerConfig.Load(directory);

        var defaults = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["bos_token"] = "[CLS]",
            ["eos_token"] = "[SEP]",
            ["unk_token"] = "[UNK]",
            ["sep_token"] = "[SEP]",
            ["pad_token"] = "[PAD]",
            ["cls_token"] = "[CLS]",
            ["mask_token"] = "[MASK]",
        };
        var byRole = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        var specialIds = new HashSet<int>();
        foreach (string role in TokenizerConfig.SpecialRoles)
        {
            string content = config.SpecialTokens.TryGetValue(role, out AddedToken? given) ? given.Content : defaults[role];
            if (pipeline.TokenToId(content) is not int id)
            {
                if (role is "cls_token" or "sep_token" or "unk_token")
                {
                    throw new TokenizerException($"'{path}': the {role} '{content}' is neither an added token nor in the model vocabulary.");
                }

                continue;
            }

            AddedToken token = pipeline.Added.ById.TryGetValue(id, out AddedToken? added) && added.Content == content
                ? added
                : new AddedToken(content, id) { Special = true };
            byRole[role] = token;
            specialIds.Add(id);
        }

        foreach (AddedToken extra in config.AdditionalSpecialTokens)
        {
            if (pipeline.TokenToId(extra.Content) is int id)
            {
                specialIds.Add(id);
            }
        }

        List<AddedToken> addedTokens = [.. pipeline.Added.ById.Values.OrderBy(t => t.Id)];
        int vocabularySize = pipeline.Model.VocabularySize + addedTokens.Count(t => pipeline.Model.TokenToId(t.Content) is null);
        var tokens = new ResolvedTokens(byRole, addedTokens, specialIds, 0);
        return new DebertaTokenizerFast(pipeline, tokens, config, vocabularySize);
    }

    /// <inheritdoc/>
    private protected override void TokenizeSequence(string text, List<TokenPiece> pieces) => _pipeline.Encode(text, pieces);

    /// <inheritdoc/>
    private protected override void TokenizeText(string text, int start, int end, List<TokenPiece> output)
    {
        var pieces = new List<TokenPiece>();
        _pipeline.Encode(text[start..end], pieces);
        output.AddRange(pieces.Select(p => p with { Start = p.Start + start, End = p.End + start }));
    }

    /// <summary>The <c>tokenizer.json</c> it was loaded from, written back by <see cref="DebertaTokenizerBase.SavePretrained"/>.</summary>
    private protected override IReadOnlyList<string> ModelFileNames => ["tokenizer.json"];

    /// <inheritdoc/>
    private protected override int SpecialTokenCount(bool pair) => _pipeline.PostProcessor?.AddedTokens(pair) ?? 0;

    /// <summary>tokenizers 0.19–0.22 <c>truncate_encodings</c>: the base's Rust rule (<see cref="DebertaTokenizerBase.RustKeep"/>).</summary>
    private protected override (int First, int? Second) KeptCounts(int n1, int? n2, int room, TruncationStrategy strategy) =>
        RustKeep(n1, n2, room, strategy);

    /// <inheritdoc/>
    private protected override TokenEncoding BuildEncoding(List<TokenPiece> first, List<TokenPiece>? second, bool addSpecial, int removed)
    {
        var encodings = new List<List<EncodedItem>> { first.ConvertAll(p => new EncodedItem(p.Id, p.Token, p.Start, p.End, 0, false, 0)) };
        if (second is not null)
        {
            encodings.Add(second.ConvertAll(p => new EncodedItem(p.Id, p.Token, p.Start, p.End, 1, false, 1)));
        }

        List<EncodedItem> items = PostProcessors.Apply(_pipeline.PostProcessor, encodings, addSpecial);
        return new TokenEncoding
        {
            InputIds = [.. items.Select(t => t.Id)],
            TokenTypeIds = [.. items.Select(t => t.TypeId)],
            AttentionMask = [.. items.Select(_ => 1)],
            SpecialTokensMask = [.. items.Select(t => t.Special ? 1 : 0)],
            Offsets = [.. items.Select(t => new TokenOffset(t.Start, t.End))],
            Tokens = [.. items.Select(t => t.Token)],
            SequenceIds = [.. items.Select(t => t.SequenceId)],
            NumTruncatedTokens = removed,
        };
    }

    /// <inheritdoc/>
    private protected override string ConvertTokensToString(IReadOnlyList<string> tokens) =>
        Decoders.Decode(_pipeline.Decoder, [.. tokens.Select(_pipeline.Added.DecodingForm)]);

    /// <inheritdoc/>
    private protected override int? VocabularyId(string piece) => _pipeline.Model.TokenToId(piece);

    /// <inheritdoc/>
    private protected override string? VocabularyPiece(int id) => _pipeline.Model.IdToToken(id);
}
