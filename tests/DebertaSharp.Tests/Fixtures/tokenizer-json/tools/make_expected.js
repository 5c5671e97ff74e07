// Runs HF's Rust tokenizers (npm tokenizers, Node bindings) over the cases of a strings file and writes what it returns.
// With --decode it also records decode(ids of the encoding with special tokens, skipSpecialTokens = false).
// Tooling only: tests never run it. Usage: node make_expected.js [--decode] <tokenizer.json> <cases.json[.gz]>... <out.json.gz>
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const { Tokenizer } = require('tokenizers');

function load(file) {
  const raw = fs.readFileSync(file);
  const d = JSON.parse((file.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString('utf8'));
  return d.cases.map(c => (c.text_pair === undefined || c.text_pair === null ? { text: c.text } : { text: c.text, text_pair: c.text_pair }));
}

function fieldsOf(e, full) {
  const r = { ids: e.getIds(), offsets: e.getOffsets() };
  if (full) {
    r.tokens = e.getTokens();
    r.type_ids = e.getTypeIds();
    r.attention_mask = e.getAttentionMask();
    r.special_tokens_mask = e.getSpecialTokensMask();
  }
  return r;
}

async function main() {
  const args = process.argv.slice(2);
  const decode = args[0] === '--decode';
  if (decode) args.shift();
  const out = args.pop();
  const tokenizer = Tokenizer.fromFile(args.shift());
  const seen = new Set();
  const cases = [];
  for (const f of args) {
    for (const c of load(f)) {
      const key = JSON.stringify(c);
      if (seen.has(key)) continue;
      seen.add(key);
      const pair = c.text_pair ?? null;
      c.with_special = fieldsOf(await tokenizer.encode(c.text, pair, { addSpecialTokens: true }), true);
      c.without_special = fieldsOf(await tokenizer.encode(c.text, pair, { addSpecialTokens: false }), false);
      if (decode) c.decoded = await tokenizer.decode(c.with_special.ids, false);
      cases.push(c);
    }
  }
  const doc = { generator: 'npm tokenizers@0.23.2 (HF Rust tokenizers, Node bindings), Tokenizer.fromFile + encode(text, pair, {addSpecialTokens})', cases };
  fs.writeFileSync(out, zlib.gzipSync(Buffer.from(JSON.stringify(doc)), { level: 9 }));
  console.log(`${out}: ${cases.length} cases`);
}
main();
