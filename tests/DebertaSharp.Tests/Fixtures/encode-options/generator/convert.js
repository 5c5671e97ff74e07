// Builds tokenizer.json for tokenizer-v3 the way transformers' DebertaV2Converter does (read, not copied).
const fs = require('fs');
const buf = fs.readFileSync(process.argv[2]);
function varint(b, p) { let r = 0n, s = 0n; for (;;) { const x = b[p++]; r |= BigInt(x & 0x7f) << s; s += 7n; if (!(x & 0x80)) return [Number(r), p]; } }
function fields(b) { const out = []; let p = 0; while (p < b.length) { let k; [k, p] = varint(b, p); const f = k >> 3, w = k & 7; if (w === 0) { let v; [v, p] = varint(b, p); out.push([f, w, v]); } else if (w === 2) { let n; [n, p] = varint(b, p); out.push([f, w, b.subarray(p, p + n)]); p += n; } else if (w === 5) { out.push([f, w, b.readFloatLE(p)]); p += 4; } else if (w === 1) { p += 8; } else throw new Error('wire ' + w); } return out; }
const top = fields(buf);
const pieces = []; let charsmap = null; let unk = 3;
for (const [f, w, v] of top) {
  if (f === 1) { let piece = '', score = 0, type = 1; for (const [g, , x] of fields(v)) { if (g === 1) piece = x.toString('utf8'); if (g === 2) score = x; if (g === 3) type = x; } pieces.push([piece, score, type]); }
  if (f === 3) for (const [g, , x] of fields(v)) if (g === 2) charsmap = Buffer.from(x).toString('base64');
  if (f === 2) for (const [g, , x] of fields(v)) if (g === 40) unk = x;
}
const special = (id, content, normalized) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized, special: true });
const tok = {
  version: '1.0', truncation: null, padding: null,
  added_tokens: [special(0, '[PAD]', false), special(1, '[CLS]', false), special(2, '[SEP]', false), special(3, '[UNK]', true), special(1000, '[MASK]', false)],
  normalizer: { type: 'Sequence', normalizers: [
    { type: 'Strip', strip_left: true, strip_right: true },
    { type: 'Precompiled', precompiled_charsmap: charsmap },
    { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
  pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true }] },
  post_processor: { type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
    special_tokens: { '[CLS]': { id: '[CLS]', ids: [1], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [2], tokens: ['[SEP]'] } } },
  decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
  model: { type: 'Unigram', unk_id: unk, vocab: pieces.map(p => [p[0], p[1]]), byte_fallback: false },
};
fs.writeFileSync(process.argv[3], JSON.stringify(tok));
console.log(pieces.length, 'pieces, unk', unk, 'charsmap', charsmap ? charsmap.length : 0);
