namespace DebertaSharp;

/// <summary>Base type of every error DebertaSharp raises on bad input, configuration or files.</summary>
public class DebertaSharpException : Exception
{
    /// <summary>Creates the exception with a message that names the offending file, key, shape or value.</summary>
    public DebertaSharpException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the underlying cause.</summary>
    public DebertaSharpException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A <c>config.json</c> is missing, malformed, of an unknown <c>model_type</c>, or inconsistent.</summary>
public class DebertaConfigurationException : DebertaSharpException
{
    /// <inheritdoc cref="DebertaSharpException(string)"/>
    public DebertaConfigurationException(string message) : base(message) { }

    /// <inheritdoc cref="DebertaSharpException(string, Exception)"/>
    public DebertaConfigurationException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A checkpoint file is missing, truncated, corrupt, or does not fit the model.</summary>
public class CheckpointException : DebertaSharpException
{
    /// <inheritdoc cref="DebertaSharpException(string)"/>
    public CheckpointException(string message) : base(message) { }

    /// <inheritdoc cref="DebertaSharpException(string, Exception)"/>
    public CheckpointException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Model inputs are inconsistent: shapes, ids outside the vocabulary, sequences too long, empty batches.</summary>
public class DebertaInputException : DebertaSharpException
{
    /// <inheritdoc cref="DebertaSharpException(string)"/>
    public DebertaInputException(string message) : base(message) { }
}

/// <summary>A tokenizer file is missing or corrupt, or tokenizer arguments are invalid.</summary>
public class TokenizerException : DebertaSharpException
{
    /// <inheritdoc cref="DebertaSharpException(string)"/>
    public TokenizerException(string message) : base(message) { }

    /// <inheritdoc cref="DebertaSharpException(string, Exception)"/>
    public TokenizerException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Training cannot proceed: inconsistent options, optimizer state that does not fit the model, a non-finite loss,
/// or a training checkpoint that does not belong to the run.
/// </summary>
public class TrainingException : DebertaSharpException
{
    /// <inheritdoc cref="DebertaSharpException(string)"/>
    public TrainingException(string message) : base(message) { }

    /// <inheritdoc cref="DebertaSharpException(string, Exception)"/>
    public TrainingException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// A dataset file is missing, empty or malformed: a missing column, a label outside the label set, a bad CoNLL line,
/// a SQuAD answer outside its context. The message names the file and, where there is one, the line.
/// </summary>
public class DatasetException : DebertaSharpException
{
    /// <inheritdoc cref="DebertaSharpException(string)"/>
    public DatasetException(string message) : base(message) { }

    /// <inheritdoc cref="DebertaSharpException(string, Exception)"/>
    public DatasetException(string message, Exception inner) : base(message, inner) { }
}
