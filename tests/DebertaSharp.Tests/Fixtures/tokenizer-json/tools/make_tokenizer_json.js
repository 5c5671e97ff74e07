// Writes tokenizer.json for a DeBERTa tokenizer folder the way transformers 4.44's converters lay it out
// (DebertaV2Converter for spm.model, DebertaConverter for vocab.json + merges.txt), then the added tokens of
// tokenizer_config.json's added_tokens_decoder as PreTrainedTokenizerFast adds them. Tooling only: tests never run it.
// Usage: node make_tokenizer_json.js <source folder> <output tokenizer.json>
'use strict';
const fs = require('fs');
const path = require('path');

function readVarint(buf, pos) {
  let result = 0n, shift = 0n;
  for (;;) {
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

// Minimal protobuf walk: returns [{field, wire, value}] of one message.
function fields(buf) {
  const out = [];
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Number(key >> 3n), wire = Number(key & 7n);
    if (wire === 0) { let v; [v, pos] = readVarint(buf, pos); out.push({ field, wire, value: v }); }
    else if (wire === 1) { out.push({ field, wire, value: buf.subarray(pos, pos + 8) }); pos += 8; }
    else if (wire === 5) { out.push({ field, wire, value: buf.subarray(pos, pos + 4) }); pos += 4; }
    else if (wire === 2) { let n; [n, pos] = readVarint(buf, pos); n = Number(n); out.push({ field, wire, value: buf.subarray(pos, pos + n) }); pos += n; }
    else throw new Error('wire type ' + wire);
  }
  return out;
}

function parseSpm(file) {
  const buf = fs.readFileSync(file);
  const model = { pieces: [], modelType: 1, unkId: 0, byteFallback: false, charsmap: Buffer.alloc(0), addDummyPrefix: true };
  for (const f of fields(buf)) {
    if (f.field === 1) {
      const p = { piece: '', score: 0, type: 1 };
      for (const g of fields(f.value)) {
        if (g.field === 1) p.piece = Buffer.from(g.value).toString('utf8');
        else if (g.field === 2) p.score = Buffer.from(g.value).readFloatLE(0);
        else if (g.field === 3) p.type = Number(g.value);
      }
      model.pieces.push(p);
    } else if (f.field === 2) {
      for (const g of fields(f.value)) {
        if (g.field === 3) model.modelType = Number(g.value);
        else if (g.field === 40) model.unkId = Number(g.value);
        else if (g.field === 35) model.byteFallback = g.value !== 0n;
      }
    } else if (f.field === 3) {
      for (const g of fields(f.value)) {
        if (g.field === 2) model.charsmap = Buffer.from(g.value);
        else if (g.field === 3) model.addDummyPrefix = g.value !== 0n;
      }
    }
  }
  return model;
}

function addedTokensDecoder(folder) {
  const p = path.join(folder, 'tokenizer_config.json');
  if (!fs.existsSync(p)) return [];
  const text = fs.readFileSync(p, 'utf8').replace(/"model_max_length": *[0-9]+/, '"model_max_length": 0');
  const config = JSON.parse(text);
  return Object.entries(config.added_tokens_decoder || {}).map(([id, t]) => ({ id: Number(id), ...t }));
}

function config(folder) {
  const p = path.join(folder, 'tokenizer_config.json');
  return fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, 'utf8').replace(/"model_max_length": *[0-9]+/, '"model_max_length": 0')) : {};
}

function token(id, content, o) {
  return { id, content, single_word: !!o.single_word, lstrip: !!o.lstrip, rstrip: !!o.rstrip, normalized: !!o.normalized, special: !!o.special };
}

// Added tokens as the Rust AddedVocabulary ends up: the converter's first, then the config's (same content: flags replaced).
function mergeAdded(first, second, lookup) {
  const byContent = new Map();
  for (const t of first.concat(second)) {
    const id = lookup(t.content) ?? t.id;
    byContent.set(t.content, token(id, t.content, t));
  }
  return [...byContent.values()].sort((a, b) => a.id - b.id);
}

function template(cls, sep, lookup) {
  const st = (id, type) => ({ SpecialToken: { id, type_id: type } });
  const sq = (id, type) => ({ Sequence: { id, type_id: type } });
  return {
    type: 'TemplateProcessing',
    single: [st(cls, 0), sq('A', 0), st(sep, 0)],
    pair: [st(cls, 0), sq('A', 0), st(sep, 0), sq('B', 1), st(sep, 1)],
    special_tokens: Object.fromEntries([cls, sep].map(t => [t, { id: t, ids: [lookup(t)], tokens: [t] }])),
  };
}

function fromSpm(folder) {
  const spm = parseSpm(path.join(folder, 'spm.model'));
  if (spm.modelType !== 1) throw new Error('only unigram spm models');
  const cfg = config(folder);
  const pieceIds = new Map();
  spm.pieces.forEach((p, i) => { if (!pieceIds.has(p.piece)) pieceIds.set(p.piece, i); });
  const fromConverter = spm.pieces.map((p, i) => ({ p, i })).filter(x => x.p.type === 3 || x.p.type === 4)
    .map(x => ({ id: x.i, content: x.p.piece, normalized: false, special: x.p.type === 3 }));
  const added = mergeAdded(fromConverter, addedTokensDecoder(folder), c => pieceIds.get(c));
  const lookup = c => pieceIds.get(c) ?? added.find(t => t.content === c).id;
  const normalizers = [];
  if (cfg.do_lower_case) normalizers.push({ type: 'Lowercase' });
  normalizers.push({ type: 'Strip', strip_left: true, strip_right: true });
  if (spm.charsmap.length > 0) normalizers.push({ type: 'Precompiled', precompiled_charsmap: spm.charsmap.toString('base64') });
  normalizers.push({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' });
  const preTokenizers = [];
  if (cfg.split_by_punct) preTokenizers.push({ type: 'Punctuation', behavior: 'Isolated' });
  preTokenizers.push({ type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: { type: 'Sequence', pretokenizers: preTokenizers },
    post_processor: template('[CLS]', '[SEP]', lookup),
    decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: spm.unkId, vocab: spm.pieces.map(p => [p.piece, p.score]), byte_fallback: spm.byteFallback },
  };
}

function fromBpe(folder) {
  const vocab = JSON.parse(fs.readFileSync(path.join(folder, 'vocab.json'), 'utf8'));
  const merges = fs.readFileSync(path.join(folder, 'merges.txt'), 'utf8').split('\n')
    .filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#version')));
  const cfg = config(folder);
  let specials = addedTokensDecoder(folder);
  if (specials.length === 0) {
    // DebertaTokenizer's defaults: every role special, [MASK] with lstrip.
    specials = ['[PAD]', '[CLS]', '[SEP]', '[UNK]', '[MASK]'].map(c => ({ id: vocab[c], content: c, special: true, lstrip: c === '[MASK]', normalized: c === '[MASK]' }));
  }
  const added = mergeAdded([], specials, c => vocab[c]);
  const lookup = c => vocab[c] ?? added.find(t => t.content === c).id;
  const prefix = !!cfg.add_prefix_space;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: true, use_regex: true },
    post_processor: template('[CLS]', '[SEP]', lookup),
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
}

const [src, out] = process.argv.slice(2);
const json = fs.existsSync(path.join(src, 'spm.model')) ? fromSpm(src) : fromBpe(src);
fs.writeFileSync(out, JSON.stringify(json, null, 0));
console.log(`${out}: ${json.added_tokens.length} added tokens`);
