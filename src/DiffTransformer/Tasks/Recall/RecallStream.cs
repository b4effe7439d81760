// The built-in synthetic task of `difft train`: key→value recall among distractors, byte-level ASCII.
//
// Format (defaults: 12 pairs, 4 queries, 2-letter keys from "abcdefgh", 2-digit values, 6 filler words):
//
//     hf=62 dd=47 de=52 eh=65 d h dc=55 ec b cc=05 gh=43 ee=95 ah=94 dca cf=61 bc=64 dg=49 g | ee?95 dc?55 hf?62 dd?47
//     └───────── context: 12 pairs and 6 filler words, shuffled, one space apart ──────────┘   └───── 4 queries ─────┘
//
// (seed 1, train document 0). "ee?95": the value of ee in the context is 95; eh=65 is its planted near miss (key and
// value each one character off), de=52 an accidental one.
//
// Why this shape:
// - Only the answers carry learnable signal. Keys, values and filler are uniform random draws, so the loss on them
//   cannot fall below their entropy whatever the model does; the separators are trivially predictable. The one thing
//   that lowers the loss further is copying, at each "key?" of the query section, the value that followed "key=" in
//   the context: retrieval from context, the capability the paper credits DIFF attention with (multi-needle retrieval,
//   N needles and R queries — here Pairs and Queries).
// - Near misses punish attention spread over look-alikes: for each queried key, NearMisses distractor keys differ from
//   it in one character (ab vs. ad), and their values differ from its value in one character (17 vs. 14). Attention
//   split between the right pair and a near miss predicts the shared characters but not the whole value, so whole-
//   answer accuracy falls while per-character accuracy hides it. Small alphabets add accidental near misses too.
// - Filler words are drawn from the key alphabet: strings like keys without "=", so matching a key's characters alone
//   is not enough; the model must find "key=" exactly. They also vary the spacing, so pair positions are not periodic.
// - Values repeat across pairs (drawn with replacement): copying the value of a wrong pair is sometimes right by
//   chance, like a real haystack, and the first answer character alone does not identify the pair.
// - The query separator is "?" rather than "=": a one-token induction ("what followed '=' last time") cannot solve it;
//   the model has to match the key's characters. It also makes answers findable in the text, so RecallExample.Parse
//   recovers every span from the text alone and a dataset's val split doubles as the evaluation set.
// - Queries ask distinct keys in random order, independent of the pairs' order, so position gives nothing away; the
//   depth of the queried pair (0 = first pair, 1 = last) is recorded for depth-binned analysis as in the paper.
// - Plain ASCII, one byte token per character: character spans are token spans (shifted by the end-of-text token
//   that precedes every document in training and evaluation).
// - Short documents (≈ 100–130 bytes by default, under half of a 256-token context), so a training window placed at
//   random over the concatenated split always holds at least one whole document, whatever the trainer's sampler.
//
// Determinism: document i of stream s is a pure function of (seed, s, i) through a SplitMix64 sequence seeded by
// CounterHash, so any thread count, any order and any subset give the same documents.

namespace DiffTransformer.Tasks.Recall;

/// <summary>Independent document streams of one seed: train and held-out (val and evaluation) never share a document draw.</summary>
public enum RecallStream
{
    /// <summary>Training documents.</summary>
    Train = 0,
    /// <summary>Held-out documents: the val split and the evaluation examples.</summary>
    Heldout = 1,
}
