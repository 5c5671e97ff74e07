// Reference outputs of HF's Rust `tokenizers` (npm tokenizers@0.23.2) for the encode options.
// Truncation/overflow are applied by tokenizer.postProcess on the UNTRUNCATED encodings (0.23's encode() stops
// tokenizing early when truncation is on; postProcess runs truncate_encodings + the template + padding as 0.19 does).
const fs = require('fs');
const { Tokenizer } = require('tokenizers');
const t = Tokenizer.fromFile(process.argv[2]);
const golden = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const longText = golden.batch_examples.truncation_single.text.slice(0, 700);
const pairA = golden.batch_examples.truncation_pair_longest_first.text;
const pairB = golden.batch_examples.truncation_pair_longest_first.text_pair;
const question = 'What does this License apply to?';
const caseTexts = golden.cases.map(c => c.text).filter(s => !/[\u{10000}-\u{10FFFF}]/u.test(s) && s.length > 0);
const dump = e => ({
  input_ids: e.getIds(), token_type_ids: e.getTypeIds(), attention_mask: e.getAttentionMask(),
  special_tokens_mask: e.getSpecialTokensMask(), offsets: e.getOffsets(), word_ids: e.getWordIds().map(x => x ?? null),
  sequence_ids: e.getSequenceIds().map(x => x ?? null), length: e.getLength(),
});
// The node bindings take no pre-tokenized input: words are joined with single spaces, which Metaspace splits again into
// the same words (word_ids), offsets then point into the joined string (the test converts them to per-word offsets).
async function raw(input, pretok) { return t.encode(pretok ? input.join(' ') : input, null, { addSpecialTokens: false }); }
async function run(c) {
  t.disableTruncation(); t.disablePadding();
  const pretok = c.words !== undefined;
  const a = await raw(pretok ? c.words : c.text, pretok);
  const b = (pretok ? c.pair_words : c.text_pair) == null ? null : await raw(pretok ? c.pair_words : c.text_pair, pretok);
  const o = c.options;
  if (o.max_length != null) t.setTruncation(o.max_length, { stride: o.stride ?? 0, strategy: o.strategy ?? 'LongestFirst', direction: o.direction ?? 'right' });
  if (o.padding) t.setPadding({ maxLength: o.padding === 'max_length' ? o.max_length : undefined, padToMultipleOf: o.pad_to_multiple_of, padId: 0, padToken: '[PAD]' });
  const e = t.postProcess(a, b, o.add_special_tokens ?? true);
  c.untruncated = { first: a.getIds(), second: b ? b.getIds() : null };
  c.encodings = [e, ...e.getOverflowing()].map(dump);
  return c;
}
const cases = [
  { name: 'single-stride-right', text: longText, options: { max_length: 32, stride: 8 } },
  { name: 'single-stride-left', text: longText, options: { max_length: 32, stride: 8, direction: 'left' } },
  { name: 'single-stride0-right', text: longText, options: { max_length: 50, stride: 0 } },
  { name: 'single-pad-multiple', text: longText, options: { max_length: 30, stride: 3, padding: 'longest', pad_to_multiple_of: 8 } },
  { name: 'single-pad-maxlength-multiple', text: caseTexts[0], options: { max_length: 21, padding: 'max_length', pad_to_multiple_of: 8 } },
  { name: 'single-no-special', text: longText, options: { max_length: 20, stride: 5, add_special_tokens: false } },
  { name: 'pair-only-second', text: question, text_pair: longText, options: { max_length: 40, stride: 10, strategy: 'OnlySecond' } },
  { name: 'pair-only-second-left', text: question, text_pair: longText, options: { max_length: 40, stride: 10, strategy: 'OnlySecond', direction: 'left' } },
  { name: 'pair-only-first', text: longText, text_pair: question, options: { max_length: 40, stride: 6, strategy: 'OnlyFirst' } },
  { name: 'pair-longest-first', text: pairA, text_pair: pairB, options: { max_length: 24, stride: 2, strategy: 'LongestFirst' } },
  { name: 'pair-longest-first-one-side', text: question, text_pair: pairB, options: { max_length: 24, stride: 3, strategy: 'LongestFirst' } },
  { name: 'words-single', words: ['Hello', 'world!', 'The', '[MASK]', 'sat', 'on', 'the', 'mat.'], options: {} },
  { name: 'words-pair-windows', words: question.split(' '), pair_words: longText.split(' ').filter(w => w), options: { max_length: 40, stride: 6, strategy: 'OnlySecond' } },
];
(async () => {
  const out = [];
  for (const c of cases) out.push(await run(c));
  // A batch: windows of every input in order, plus overflow_to_sample_mapping (as transformers' fast tokenizers flatten them).
  t.disableTruncation(); t.disablePadding();
  const texts = [caseTexts[1], longText, caseTexts[2]];
  t.setTruncation(24, { stride: 4 }); t.setPadding({ padToMultipleOf: 8, padId: 0, padToken: '[PAD]' });
  const raws = []; for (const s of texts) { t.disableTruncation(); t.disablePadding(); raws.push(await raw(s, false)); }
  t.setTruncation(24, { stride: 4 });
  const batch = { texts, options: { max_length: 24, stride: 4, padding: 'longest', pad_to_multiple_of: 8 }, encodings: [], overflow_to_sample_mapping: [] };
  const windows = [];
  raws.forEach((r, i) => { const e = t.postProcess(r, null, true); for (const w of [e, ...e.getOverflowing()]) { windows.push(w); batch.overflow_to_sample_mapping.push(i); } });
  // Batch padding (BatchLongest over all windows, rounded up to the multiple), as pad_encodings does.
  let longest = Math.max(...windows.map(w => w.getLength())); if (longest % 8) longest += 8 - longest % 8;
  for (const w of windows) { w.pad(longest, { padId: 0, padToken: '[PAD]' }); batch.encodings.push(dump(w)); }
  fs.writeFileSync(process.argv[4], JSON.stringify({ generator: 'tokenizers@0.23.2 (npm, prebuilt linux-x64), see README.txt', cases: out, batch }));
  console.log(out.map(c => c.name + ':' + c.encodings.length).join(' '), 'batch', batch.encodings.length);
})();
