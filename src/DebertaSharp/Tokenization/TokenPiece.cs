namespace DebertaSharp.Tokenization;

/// <summary>One token of one sequence before the template is applied: id, piece string and its span in the original string.</summary>
internal readonly record struct TokenPiece(int Id, string Token, int Start, int End);
