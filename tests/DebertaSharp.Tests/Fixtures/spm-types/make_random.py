# Run once with Debian 12's python3 + python3-sentencepiece 0.1.97, after make_fixture.py; writes random.json.gz:
# 2,000 seeded random strings and, per model (these five and ../tokenizer-real/albert30k), the ids HF's
# DebertaV2Tokenizer gives them without special tokens: [piece_to_id(p) for p in encode(text, out_type=str)].
import gzip, json, os, random, sentencepiece as spm

here = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(5)
pool = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789      ...,,;:!?'\"(){}<>-–—_/\\@#$%^&*+=|~`£€¥")
pool += [chr(c) for c in range(0x300, 0x36F, 7)] + list("éèêëàâäôöûüçñßøåæœÉÈÊÀÂÔÛÇ") + list("日本語中文漢字한국어ひらがなカタカナ")
pool += list("😀👍🏻🇩🇪‍️") + ["\u200b", "\u200d", "\ufeff", "\u00a0", "\u3000", "\t", "\n", "\r", "\u0007", "\u00ad",
                             "ﬁ", "Ａ", "１", "①", "Ⅻ", "㎏", "ｶ", "ﾞ"]
pool += list("αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΣΩабвгдежзийклмнопрстуфхцчшщъыьэюяАБВ")
words = ["the", "model", "tokenizer", "über", "naïve", "running", "unbelievable", "co-operate", "e-mail", "3.14", "1999",
         "internationalization", "<br>", "@@"]
texts = []
for _ in range(2000):
    n = rng.choice([1, 3, 10, 30, 80, 200])
    if rng.random() < 0.3:
        t = " ".join(rng.choice(words) for _ in range(n // 3 + 1))
        t = "".join(c if rng.random() > 0.1 else rng.choice(pool) for c in t)
    else:
        t = "".join(rng.choice(pool) for _ in range(n))
    texts.append(t)  # no '[' in the pool: HF would split [CLS]-like added tokens out first

models = {name: os.path.join(here, name, "spm.model") for name in ["unigram-bytefallback", "bpe-bytefallback", "bpe", "word", "char"]}
models["albert30k"] = os.path.join(here, "..", "tokenizer-real", "albert30k", "spm.model")
out = {"generator": "make_random.py, python sentencepiece " + spm.__version__, "texts": texts, "ids": {}}
for name, path in models.items():
    sp = spm.SentencePieceProcessor(model_file=path)
    out["ids"][name] = [[sp.piece_to_id(p) for p in sp.encode(t, out_type=str)] for t in texts]
with gzip.GzipFile(os.path.join(here, "random.json.gz"), "wb", mtime=0) as f:
    f.write(json.dumps(out, ensure_ascii=False).encode("utf-8"))
