using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization.Fast;

/// <summary>Random strings of awkward characters through every tokenizer.json fixture: no exception, offsets inside their text.</summary>
public class FastTokenizerRobustnessTests
{
    [Fact]
    public void RandomStringsEncodeAndDecode()
    {
        var rng = new Random(7);
        var tokenizers = new List<DebertaTokenizerBase>();
        foreach (string f in new[] { "v3", "v1", "albert30k" })
        {
            tokenizers.Add(DebertaTokenizerFast.FromPretrained(FastGoldenData.Folder(f)));
        }

        var folders = new List<HandmadeFolder>();
        foreach (string n in new[] { "bert-wordpiece-bpe", "bert-normalizer", "roberta-bytefallback-bpe", "suffix-bpe", "unigram-bytefallback", "bytelevel-prefix", "unigram-split-invert", "metaspace-never" })
        {
            HandmadeFolder h = n.StartsWith("roberta", StringComparison.Ordinal) ? HandmadeFolder.Create(n, "<s>", "</s>", "<unk>") : HandmadeFolder.Create(n, "[CLS]", "[SEP]", "[UNK]");
            folders.Add(h);
            tokenizers.Add(DebertaTokenizerFast.FromPretrained(h.Path));
        }

        int[] pool = [' ', ' ', '\t', '\n', 'a', 'b', 'e', 'E', 'z', '1', '-', '.', '<', '>', '[', ']', 0x301, 0x308, 0x327, 0x130, 0x3A3, 0xFB01, 0xFF76, 0xFF9E, 0x1100, 0x1161, 0x11A8, 0x3131, 0x314F, 0x200D, 0xFE0F, 0x1F600, 0x20000, 0x1D400, 0xFFFE, 0xFFFD, 0x0, 0x85, 0x2028, 0x3000, 0xA0, 0x2581, 0x32FF, 0x1F130];
        string[] words = ["[MASK]", "[CLS]", "<mask>", "<ent>", "<w>", "Hello", "WORLD", "the", "[UNK]", "``"];
        for (int n = 0; n < 1000; n++)
        {
            var sb = new System.Text.StringBuilder();
            int len = rng.Next(0, 40);
            for (int i = 0; i < len; i++)
            {
                if (rng.Next(8) == 0)
                {
                    sb.Append(words[rng.Next(words.Length)]);
                }
                else
                {
                    sb.Append(char.ConvertFromUtf32(pool[rng.Next(pool.Length)]));
                }
            }

            string s = sb.ToString();
            foreach (DebertaTokenizerBase t in tokenizers)
            {
                string? pair = s.Length > 3 ? s[..3] : null;
                TokenEncoding e = t.Encode(s, pair);
                for (int k = 0; k < e.Length; k++)
                {
                    TokenOffset o = e.Offsets[k];
                    int limit = e.SequenceIds[k] == 1 ? pair!.Length : s.Length;
                    Assert.True(o.Start >= 0 && o.End >= o.Start && o.End <= limit, $"{o} in {limit}");
                }

                _ = t.Decode(e.InputIds);
                _ = t.Encode(s, s, new EncodeOptions { MaxLength = 7 });
            }
        }

        folders.ForEach(h => h.Dispose());
    }
}
