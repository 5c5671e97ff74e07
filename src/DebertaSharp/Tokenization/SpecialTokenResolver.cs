namespace DebertaSharp.Tokenization;

/// <summary>The special and added tokens of a tokenizer with their ids, after <see cref="SpecialTokenResolver.Resolve"/>.</summary>
internal sealed record ResolvedTokens(
    IReadOnlyDictionary<string, AddedToken> ByRole,
    IReadOnlyList<AddedToken> AddedTokens,
    IReadOnlySet<int> SpecialIds,
    int TokensBeyondVocabulary);

/// <summary>
/// Gives every special token (<c>[CLS]</c>, <c>[SEP]</c>, …) and added token its id, following HF 4.44's slow
/// tokenizer initialisation: ids from <c>added_tokens_decoder</c>, else the model vocabulary, else (older
/// checkpoints without <c>added_tokens_decoder</c>, e.g. deberta-v3's <c>[MASK]</c>) the next free id.
/// </summary>
internal static class SpecialTokenResolver
{
    /// <summary>Resolves the ids.</summary>
    /// <param name="config">The parsed tokenizer files.</param>
    /// <param name="classDefaults">Role → the class's default token (content and flags), used for roles the files omit or give as plain strings.</param>
    /// <param name="vocabLookup">Id of a piece in the model vocabulary, or <c>null</c>.</param>
    /// <param name="vocabSize">Number of pieces in the model vocabulary (the first free id).</param>
    /// <param name="source">File name used in error messages.</param>
    /// <exception cref="TokenizerException">A special token is neither in the vocabulary nor in <c>added_tokens_decoder</c> of a config that has one, or two ids clash.</exception>
    public static ResolvedTokens Resolve(
        TokenizerConfig config,
        IReadOnlyDictionary<string, AddedToken> classDefaults,
        Func<string, int?> vocabLookup,
        int vocabSize,
        string source)
    {
        var byContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        var order = new List<string>();

        void Register(AddedToken token)
        {
            if (!byContent.ContainsKey(token.Content))
            {
                order.Add(token.Content);
            }

            byContent[token.Content] = token;
        }

        if (config.AddedTokensDecoder is not null)
        {
            foreach (AddedToken t in config.AddedTokensDecoder.OrderBy(t => t.Id))
            {
                if (t.Id >= vocabSize && vocabLookup(t.Content) is int inVocab && inVocab != t.Id)
                {
                    throw new TokenizerException(
                        $"{source}: added token '{t.Content}' has id {t.Id} in added_tokens_decoder but id {inVocab} in the vocabulary.");
                }

                Register(t);
            }
        }

        foreach ((string content, int id) in config.LegacyAddedTokens.OrderBy(kv => kv.Value))
        {
            if (!byContent.ContainsKey(content))
            {
                Register(new AddedToken(content, id));
            }
        }

        // HF numbers added tokens on from the vocabulary, so an id far past vocabulary + added tokens is a corrupt file
        // (it would be emitted as an id no embedding row has, and size every id table after it).
        long idLimit = (long)vocabSize + byContent.Count + TokenizerConfig.SpecialRoles.Length + config.AdditionalSpecialTokens.Count;
        foreach (AddedToken t in byContent.Values)
        {
            if (t.Id >= idLimit)
            {
                string file = config.LegacyAddedTokens.TryGetValue(t.Content, out int legacyId) && legacyId == t.Id
                    && config.AddedTokensDecoder?.Any(d => d.Content == t.Content) != true
                    ? "added_tokens.json" : "added_tokens_decoder of tokenizer_config.json";
                throw new TokenizerException(
                    $"{source}: added token '{t.Content}' in {file} has id {t.Id}, beyond the vocabulary of {vocabSize} pieces and " +
                    $"the {byContent.Count} added tokens (added-token ids continue the vocabulary: at most {idLimit - 1} here).");
            }
        }

        int nextId = Math.Max(vocabSize, byContent.Count == 0 ? 0 : byContent.Values.Max(t => t.Id) + 1);
        var byRole = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        var specialIds = new HashSet<int>();

        IEnumerable<(string Role, AddedToken Token)> Named()
        {
            foreach (string role in TokenizerConfig.SpecialRoles)
            {
                if (config.SpecialTokens.TryGetValue(role, out AddedToken? fromFile))
                {
                    yield return (role, fromFile);
                }
                else if (classDefaults.TryGetValue(role, out AddedToken? fallback))
                {
                    yield return (role, fallback);
                }
            }

            int i = 0;
            foreach (AddedToken t in config.AdditionalSpecialTokens)
            {
                yield return ($"additional_special_tokens[{i++}]", t);
            }
        }

        foreach ((string role, AddedToken declared) in Named())
        {
            AddedToken token;
            if (byContent.TryGetValue(declared.Content, out AddedToken? known))
            {
                token = known with { Special = true };
            }
            else
            {
                int? id = vocabLookup(declared.Content);
                if (id is null)
                {
                    if (config.AddedTokensDecoder is not null)
                    {
                        throw new TokenizerException(
                            $"{source}: special token {role} = '{declared.Content}' is neither in the vocabulary nor in added_tokens_decoder of tokenizer_config.json.");
                    }

                    id = nextId++;
                }

                // A plain string takes the class's flags for that role (HF wraps e.g. v1's mask in AddedToken(lstrip=True)).
                AddedToken flags = !config.RolesWithFlags.Contains(role) && classDefaults.TryGetValue(role, out AddedToken? d)
                    ? d with { Content = declared.Content }
                    : declared;
                token = flags with { Id = id.Value, Special = true };
            }

            Register(token);
            byRole[role] = token;
            specialIds.Add(token.Id);
        }

        var added = order.Select(c => byContent[c]).ToList();
        var ids = new Dictionary<int, string>();
        foreach (AddedToken t in added)
        {
            if (ids.TryGetValue(t.Id, out string? other) && other != t.Content)
            {
                throw new TokenizerException($"{source}: tokens '{other}' and '{t.Content}' both have id {t.Id}.");
            }

            ids[t.Id] = t.Content;
        }

        int beyond = added.Count(t => t.Id >= vocabSize);
        return new ResolvedTokens(byRole, added, specialIds, beyond);
    }
}
