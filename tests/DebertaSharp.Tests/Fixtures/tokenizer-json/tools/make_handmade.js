// Writes the hand-made tokenizer.json files of ../handmade (components the DeBERTa converters do not use) and the
// strings they are run on. Tooling only: tests never run it. Usage: node make_handmade.js <tokenizer-json folder>
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const root = process.argv[2];
const out = path.join(root, 'handmade');
const v3 = JSON.parse(fs.readFileSync(path.join(root, 'v3', 'tokenizer.json'), 'utf8'));
const v1 = JSON.parse(fs.readFileSync(path.join(root, 'v1', 'tokenizer.json'), 'utf8'));
const added = (id, content, o = {}) => ({ id, content, single_word: !!o.single_word, lstrip: !!o.lstrip, rstrip: !!o.rstrip, normalized: o.normalized ?? false, special: o.special ?? true });
const write = (name, json) => fs.writeFileSync(path.join(out, name), JSON.stringify(json, null, 1));
const letters = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');

// 1. BERT-like: NFD + Lowercase + StripAccents, WhitespaceSplit, BPE with "##" prefix and fused unknowns, BertProcessing.
{
  const vocab = { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, '[MASK]': 4 };
  for (const c of letters) { vocab[c] = Object.keys(vocab).length; vocab['##' + c] = Object.keys(vocab).length; }
  const merges = [];
  const addMerge = (a, b) => { const t = a + b.replace(/^##/, ''); if (!(t in vocab)) vocab[t] = Object.keys(vocab).length; merges.push(a + ' ' + b); };
  for (const [a, b] of [['t', '##h'], ['th', '##e'], ['##e', '##r'], ['##i', '##n'], ['##in', '##g'], ['a', '##n'], ['an', '##d'], ['##o', '##n'], ['o', '##f'], ['i', '##n'], ['##e', '##s'], ['##t', '##i'], ['##ti', '##on'], ['s', '##t'], ['##a', '##t'], ['##r', '##e'], ['##e', '##d']]) addMerge(a, b);
  write('bert-wordpiece-bpe.json', {
    version: '1.0', truncation: null, padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((c, i) => added(i, c)),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'Lowercase' }, { type: 'StripAccents' }] },
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'BPE', dropout: null, unk_token: '[UNK]', continuing_subword_prefix: '##', end_of_word_suffix: null, fuse_unk: true, byte_fallback: false, ignore_merges: false, vocab, merges },
  });
}

// 1b. The same model behind BertNormalizer (clean text, CJK spacing, accents stripped by lowercase) and BertPreTokenizer.
{
  const bert = JSON.parse(fs.readFileSync(path.join(out, 'bert-wordpiece-bpe.json'), 'utf8'));
  bert.normalizer = { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true };
  bert.pre_tokenizer = { type: 'BertPreTokenizer' };
  write('bert-normalizer.json', bert);
}

// 2. NFKC + Lowercase + Replace, Split(regex digits) + Punctuation(contiguous) + WhitespaceSplit, BPE with </w> suffix,
//    byte fallback and ignore_merges, RobertaProcessing; added tokens with lstrip / rstrip / single_word / normalized.
{
  const vocab = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
  for (let b = 0; b < 256; b++) vocab['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>'] = Object.keys(vocab).length;
  for (const c of letters.concat(['.', ',', '!', '?', '-', '"', "'"])) { vocab[c] = Object.keys(vocab).length; vocab[c + '</w>'] = Object.keys(vocab).length; }
  const merges = [];
  const addMerge = (a, b) => { const t = a + b; if (!(t in vocab)) vocab[t] = Object.keys(vocab).length; merges.push([a, b]); };
  for (const [a, b] of [['t', 'h'], ['th', 'e'], ['e', 'r'], ['i', 'n'], ['in', 'g'], ['a', 'n'], ['an', 'd'], ['o', 'n'], ['o', 'f'], ['e', 's'], ['s', 't'], ['a', 't'], ['r', 'e'], ['e', 'd'], ['1', '2'], ['12', '3']]) addMerge(a, b);
  vocab['license'] = Object.keys(vocab).length; // reachable only through ignore_merges
  const base = Object.keys(vocab).length;
  write('roberta-bytefallback-bpe.json', {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [added(0, '<s>'), added(1, '<pad>'), added(2, '</s>'), added(3, '<unk>'),
      added(base, '<mask>', { lstrip: true }), added(base + 1, '<ent>', { rstrip: true }), added(base + 2, '<w>', { single_word: true }),
      added(base + 3, 'Hello', { special: false }), added(base + 4, 'WORLD', { normalized: true, special: false })],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }, { type: 'Replace', pattern: { String: '``' }, content: '"' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\d+' }, behavior: 'Isolated', invert: false }, { type: 'Punctuation', behavior: 'Contiguous' }, { type: 'WhitespaceSplit' }] },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: true, ignore_merges: true, vocab, merges },
  });
}

// 2b. BPE with an end-of-word suffix, unfused unknowns, Whitespace pre-tokenizer, no post-processor.
{
  const vocab = { '[UNK]': 0, '[CLS]': 1, '[SEP]': 2 };
  for (const c of letters) { vocab[c] = Object.keys(vocab).length; vocab[c + '</w>'] = Object.keys(vocab).length; }
  const merges = [];
  const addMerge = (a, b) => { const t = a + b; if (!(t in vocab)) vocab[t] = Object.keys(vocab).length; merges.push(a + ' ' + b); };
  for (const [a, b] of [['t', 'h'], ['th', 'e</w>'], ['e', 'r</w>'], ['i', 'n'], ['in', 'g</w>'], ['a', 'n'], ['an', 'd</w>'], ['o', 'n</w>'], ['o', 'f</w>'], ['e', 's</w>'], ['s', 't'], ['a', 't</w>'], ['r', 'e'], ['e', 'd</w>']]) addMerge(a, b);
  write('suffix-bpe.json', {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [added(0, '[UNK]'), added(1, '[CLS]'), added(2, '[SEP]')],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: { type: 'BPEDecoder', suffix: '</w>' },
    model: { type: 'BPE', dropout: null, unk_token: '[UNK]', continuing_subword_prefix: null, end_of_word_suffix: '</w>', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  });
}

// 3. Unigram with byte fallback (v3's pieces + <0x00>..<0xFF>), NFKD + left Strip + Prepend-free Metaspace "first" without split after
//    Punctuation; a custom template (type id 2 on [CLS], a two-id special); Sequence post-processor.
{
  const vocab = v3.model.vocab.slice();
  for (let b = 0; b < 256; b++) vocab.push(['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>', -20]);
  const st = (id, type) => ({ SpecialToken: { id, type_id: type } });
  const sq = (id, type) => ({ Sequence: { id, type_id: type } });
  write('unigram-bytefallback.json', {
    version: '1.0', truncation: null, padding: null,
    added_tokens: v3.added_tokens,
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKD' }, { type: 'Strip', strip_left: true, strip_right: false }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Punctuation', behavior: 'Isolated' }, { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false }] },
    post_processor: { type: 'Sequence', processors: [{ type: 'TemplateProcessing',
      single: [st('[CLS]', 2), sq('A', 0), st('[SEP]', 0)],
      pair: [st('[CLS]', 2), sq('A', 0), st('[SEP]', 0), st('<sep2>', 1), sq('B', 1), st('[SEP]', 1)],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [1], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [2], tokens: ['[SEP]'] }, '<sep2>': { id: '<sep2>', ids: [2, 2], tokens: ['[SEP]', '[SEP]'] } } }] },
    decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false }] },
    model: { type: 'Unigram', unk_id: 3, vocab, byte_fallback: true },
  });
}

// 4. Byte-level BPE from v1 with merges as [a, b] pairs, NFC, ByteLevel with add_prefix_space, ByteLevel post-processor.
{
  write('bytelevel-prefix.json', {
    version: '1.0', truncation: null, padding: null,
    added_tokens: v1.added_tokens,
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { ...v1.model, merges: v1.model.merges.map(m => m.split(' ')) },
  });
}

// 5. Unigram (v3's pieces) behind the v3 charsmap + Lowercase + Prepend, legacy Metaspace (add_prefix_space), Split with invert.
{
  const pre = v3.normalizer.normalizers.find(n => n.type === 'Precompiled');
  write('unigram-split-invert.json', {
    version: '1.0', truncation: null, padding: null,
    added_tokens: v3.added_tokens,
    normalizer: { type: 'Sequence', normalizers: [pre, { type: 'Lowercase' }, { type: 'Strip', strip_left: false, strip_right: true }, { type: 'Prepend', prepend: '\u2581' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '[a-z\u2581]+' }, behavior: 'Contiguous', invert: true }, { type: 'Split', pattern: { String: 'the' }, behavior: 'MergedWithNext', invert: false }, { type: 'Split', pattern: { String: '.' }, behavior: 'MergedWithPrevious', invert: false }, { type: 'Metaspace', replacement: '\u2581', add_prefix_space: true }] },
    post_processor: v3.post_processor,
    decoder: { type: 'Metaspace', replacement: '\u2581', add_prefix_space: true },
    model: v3.model,
  });
}

// 6. Unigram (v3's pieces) with NFKC, Split(String, Removed) + Metaspace(prepend_scheme never), Replace + Strip decoders.
{
  write('metaspace-never.json', {
    version: '1.0', truncation: null, padding: null,
    added_tokens: v3.added_tokens,
    normalizer: { type: 'NFKC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { String: '-' }, behavior: 'Removed', invert: false }, { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'never', split: true }] },
    post_processor: v3.post_processor,
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: v3.model,
  });
}

// Strings: the first 700 singles and 100 pairs of tokenizer-real/albert30k, plus ones aimed at the added tokens.
const real = JSON.parse(zlib.gunzipSync(fs.readFileSync(process.argv[3])).toString('utf8')).cases;
const cases = real.filter(c => c.text_pair === undefined).slice(0, 700).map(c => ({ text: c.text }))
  .concat(real.filter(c => c.text_pair !== undefined).slice(0, 100).map(c => ({ text: c.text, text_pair: c.text_pair })));
for (const t of ['a <mask> b', 'x<mask>y', '  <mask>', '<mask>  end', 'one <ent>   two', '<ent>', 'the <w> word', 'the<w>word', '<w>', 'x <w>', '<w> y',
  'Hello world', 'hello WORLD', 'sayHello to the World', 'HELLO World WoRlD', 'Ünïcödé ﬁne ``quoted`` 123 4567 license licenses',
  '[CLS] the [MASK] [SEP]', '[CLS][SEP][MASK]', 'the  cat\tsat\u00a0on  the mat...', 'Straße ΟΔΥΣΣΕΥΣ İstanbul', 'e\u0301te\u0301 a\u0308\u0304 ﬃ ½ ㍱',
  '😀 emoji 👍🏽 and 𝔘𝔫𝔦', '', '   ', 'end.', '...the...', 'thethe the.the'])
  cases.push({ text: t });
cases.push({ text: 'Hello <mask>', text_pair: 'WORLD <ent> x' }, { text: '', text_pair: 'the end' }, { text: 'a', text_pair: '' });
fs.writeFileSync(path.join(out, 'strings.json'), JSON.stringify({ cases }, null, 0));
console.log(`${cases.length} strings`);
