# Run once with Debian 12's python3 (3.11.2) + python3-sentencepiece 0.1.97 and spm_train 0.1.97 (package sentencepiece);
# writes NAME/spm.model for each model and expected.json in this folder. The tests never run it.
import json, os, random, subprocess, sentencepiece as spm

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join("/tmp", "spm-types-corpus.txt")
extra = [
    "Der schnelle braune Fuchs springt über den faulen Hund. Straße, Größe, Übermut.",
    "Le cœur a ses raisons que la raison ne connaît point. Ça va très bien, merci.",
    "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "El pingüino Wenceslao hizo kilómetros bajo exhaustiva lluvia y frío.",
]
with open(corpus, "w", encoding="utf-8") as f:
    for name in ["GPL-3", "Apache-2.0", "Artistic", "BSD"]:
        f.write(open("/usr/share/common-licenses/" + name, encoding="utf-8").read())
    f.write("\n".join(extra * 20) + "\n")

models = {
    # name: spm_train flags
    "unigram-bytefallback": ["--model_type=unigram", "--vocab_size=400", "--byte_fallback=true",
                             "--character_coverage=0.9995", "--user_defined_symbols=<br>,@@"],
    "bpe-bytefallback": ["--model_type=bpe", "--vocab_size=400", "--byte_fallback=true",
                         "--character_coverage=0.9995", "--normalization_rule_name=identity",
                         "--user_defined_symbols=<br>"],
    "bpe": ["--model_type=bpe", "--vocab_size=500", "--character_coverage=0.995",
            "--normalization_rule_name=nmt_nfkc_cf", "--split_digits=true"],
    "word": ["--model_type=word", "--vocab_size=600", "--normalization_rule_name=identity",
             "--user_defined_symbols=<br>"],
    "char": ["--model_type=char", "--vocab_size=70", "--character_coverage=0.9995", "--user_defined_symbols=<br>"],
}
for name, flags in models.items():
    os.makedirs(os.path.join(here, name), exist_ok=True)
    prefix = os.path.join(here, name, "spm")
    subprocess.run(["spm_train", "--input=" + corpus, "--model_prefix=" + prefix,
                    "--num_threads=1", "--seed_sentencepiece_size=100000", "--minloglevel=2"] + flags, check=True)
    os.rename(prefix + ".model", os.path.join(here, name, "spm.model"))
    os.remove(prefix + ".vocab")

rng = random.Random(20261201)
test = [l.strip() for l in open("/usr/share/common-licenses/GPL-2", encoding="utf-8") if l.strip()][:150]
test += [
    "", " ", "   leading and trailing   ", "tabs\tand\nnewlines", "line<br>break and @@ marks<br><br>",
    "日本語のテキストと漢字", "emoji 😀👍🏻🇩🇪 family 👨‍👩‍👧", "café naïve résumé Ζεύς", "ﬁ ligature ＡＢＣ full width ①②",
    "numbers 1234567890 3.14159 2026-12-01", "Ünïcödé ÀÉÎÕÜ", "zero\u200bwidth\u200djoiner", "控制\u0007字符",
    "각 decomposed hangul", "Z̤̈alg̃o̸", "x" * 300, "ab" * 150, "🙂" * 20,
]
alphabet = "abcdefghijklmnopqrstuvwxyz  ,.-éüßλж日😀"
for _ in range(100):
    test.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80))))

out = {"generator": "tests/DebertaSharp.Tests/Fixtures/spm-types/make_fixture.py with python sentencepiece " + spm.__version__,
       "models": {}}
for name in models:
    sp = spm.SentencePieceProcessor(model_file=os.path.join(here, name, "spm.model"))
    # "decoded": what HF's DebertaV2Tokenizer.decode(ids) gives without special tokens: ids -> pieces, decode_pieces, strip
    out["models"][name] = [{"text": t, "ids": sp.encode(t), "pieces": sp.encode(t, out_type=str),
                            "decoded": sp.decode_pieces([sp.id_to_piece(i) for i in sp.encode(t)]).strip()} for t in test]
    with open(os.path.join(here, name, "tokenizer_config.json"), "w") as f:
        f.write('{"clean_up_tokenization_spaces": false}\n')
with open(os.path.join(here, "expected.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=0)
