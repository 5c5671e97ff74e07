using System.Buffers.Binary;

namespace DebertaSharp.Tokenization;

/// <summary>
/// SentencePiece's precompiled normalization rules (<c>NormalizerSpec.precompiled_charsmap</c>, e.g. nmt_nfkc):
/// a darts-clone double-array trie over UTF-8 keys whose values point into a blob of NUL-terminated replacements.
/// Microsoft.ML.Tokenizers has the same table internally but offers no way to learn where each replacement came from.
/// </summary>
internal sealed class SentencePieceCharsMap
{
    private readonly uint[] _units;
    private readonly byte[] _replacements;

    private SentencePieceCharsMap(uint[] units, byte[] replacements)
    {
        _units = units;
        _replacements = replacements;
    }

    /// <summary>Decodes the blob <c>&lt;trie size: u32 LE&gt;&lt;trie units&gt;&lt;replacements&gt;</c>; <c>null</c> if it is empty.</summary>
    /// <exception cref="FormatException">The blob is truncated or inconsistent.</exception>
    public static SentencePieceCharsMap? Create(byte[] blob)
    {
        if (blob.Length == 0)
        {
            return null;
        }

        if (blob.Length <= 4)
        {
            throw new FormatException("precompiled_charsmap is truncated");
        }

        uint trieSize = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (trieSize >= (uint)blob.Length - 4 || trieSize % 4 != 0 || trieSize == 0)
        {
            throw new FormatException($"precompiled_charsmap trie size {trieSize} does not fit the {blob.Length}-byte blob");
        }

        var units = new uint[trieSize / 4];
        for (int i = 0; i < units.Length; i++)
        {
            units[i] = BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(4 + (i * 4), 4));
        }

        return new SentencePieceCharsMap(units, blob.AsSpan(4 + (int)trieSize).ToArray());
    }

    /// <summary>
    /// The longest rule matching a prefix of <paramref name="input"/>: returns the number of input bytes it
    /// consumes (0 if none) and its replacement.
    /// </summary>
    public int LongestMatch(ReadOnlySpan<byte> input, out ReadOnlySpan<byte> replacement)
    {
        replacement = default;
        int best = 0;
        int bestValue = -1;

        // darts-clone commonPrefixSearch: unit = [offset:22 | extension bit | has_leaf | label:8].
        uint node = Offset(_units[0]);
        for (int i = 0; i < input.Length; i++)
        {
            byte label = input[i];
            node ^= label;
            if (node >= (uint)_units.Length)
            {
                break;
            }

            uint unit = _units[node];
            if ((unit & 0x800000FFu) != label)
            {
                break;
            }

            node ^= Offset(unit);
            if (((unit >> 8) & 1) != 0)
            {
                if (node >= (uint)_units.Length)
                {
                    break;
                }

                best = i + 1;
                bestValue = (int)(_units[node] & 0x7FFFFFFFu);
            }
        }

        if (best == 0 || bestValue >= _replacements.Length)
        {
            return 0;
        }

        int end = Array.IndexOf(_replacements, (byte)0, bestValue);
        replacement = _replacements.AsSpan(bestValue, (end < 0 ? _replacements.Length : end) - bestValue);
        return best;
    }

    /// <summary>
    /// What the trie holds after the single byte <paramref name="label"/>: whether that byte alone is a rule, and
    /// whether a longer rule continues with an ASCII byte (used to find ASCII bytes that normalize to themselves).
    /// </summary>
    public void Probe(byte label, out bool isRule, out bool continuesWithAscii)
    {
        isRule = false;
        continuesWithAscii = false;
        uint node = Offset(_units[0]) ^ label;
        if (node >= (uint)_units.Length || (_units[node] & 0x800000FFu) != label)
        {
            return;
        }

        uint unit = _units[node];
        node ^= Offset(unit);
        isRule = ((unit >> 8) & 1) != 0;
        for (uint next = 1; next < 0x80; next++)
        {
            uint child = node ^ next;
            if (child < (uint)_units.Length && (_units[child] & 0x800000FFu) == next)
            {
                continuesWithAscii = true;
                return;
            }
        }
    }

    /// <summary>
    /// Walks the whole trie once and checks that every transition, leaf and replacement lies inside the blob and
    /// that every replacement is NUL-terminated UTF-8, so that <see cref="LongestMatch"/> never reads out of bounds.
    /// </summary>
    /// <exception cref="FormatException">The trie or a replacement is damaged.</exception>
    public void Validate()
    {
        var visited = new bool[_units.Length];
        var stack = new Stack<uint>();
        stack.Push(Offset(_units[0]));
        while (stack.Count > 0)
        {
            uint node = stack.Pop();
            for (uint label = 1; label < 256; label++)
            {
                uint child = node ^ label;
                if (child >= (uint)_units.Length || (_units[child] & 0x800000FFu) != label)
                {
                    continue;
                }

                if (visited[child])
                {
                    continue; // darts-clone shares common suffixes (a DAG); a damaged cycle also ends here
                }

                visited[child] = true;
                uint next = child ^ Offset(_units[child]);
                if (((_units[child] >> 8) & 1) != 0)
                {
                    if (next >= (uint)_units.Length)
                    {
                        throw new FormatException($"precompiled_charsmap trie leaf of unit {child} points outside the trie");
                    }

                    CheckReplacement((int)(_units[next] & 0x7FFFFFFFu));
                }

                stack.Push(next);
            }
        }
    }

    private void CheckReplacement(int value)
    {
        int end = value < _replacements.Length ? Array.IndexOf(_replacements, (byte)0, value) : -1;
        if (end < 0)
        {
            throw new FormatException($"precompiled_charsmap replacement at {value} is outside the {_replacements.Length}-byte table or not NUL-terminated");
        }

        if (System.Text.Unicode.Utf8.IsValid(_replacements.AsSpan(value, end - value)) is false)
        {
            throw new FormatException($"precompiled_charsmap replacement at {value} is not valid UTF-8");
        }
    }

    /// <summary>
    /// The replacement of the SHORTEST rule matching a prefix of <paramref name="input"/>, or <c>null</c>: what HF
    /// tokenizers' <c>Precompiled</c> normalizer (spm_precompiled's <c>transform</c>) looks up for a whole grapheme or character.
    /// </summary>
    public byte[]? ShortestMatch(ReadOnlySpan<byte> input)
    {
        uint node = Offset(_units[0]);
        for (int i = 0; i < input.Length; i++)
        {
            byte label = input[i];
            if (label == 0)
            {
                return null;
            }

            node ^= label;
            if (node >= (uint)_units.Length)
            {
                return null;
            }

            uint unit = _units[node];
            if ((unit & 0x800000FFu) != label)
            {
                return null;
            }

            node ^= Offset(unit);
            if (((unit >> 8) & 1) != 0)
            {
                if (node >= (uint)_units.Length)
                {
                    return null;
                }

                int value = (int)(_units[node] & 0x7FFFFFFFu);
                if (value >= _replacements.Length)
                {
                    return null;
                }

                int end = Array.IndexOf(_replacements, (byte)0, value);
                return _replacements.AsSpan(value, (end < 0 ? _replacements.Length : end) - value).ToArray();
            }
        }

        return null;
    }

    private static uint Offset(uint unit) => (unit >> 10) << (int)((unit & (1u << 9)) >> 6);
}
