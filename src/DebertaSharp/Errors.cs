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

/// <summary>Pre-training cannot run: an unreadable or empty corpus, bad masking or loop options, or a checkpoint that does not fit.</summary>
public class PretrainingException : DebertaSharpException
{
    /// <inheritdoc cref="DebertaSharpException(string)"/>
    public PretrainingException(string message) : base(message) { }

    /// <inheritdoc cref="DebertaSharpException(string, Exception)"/>
    public PretrainingException(string message, Exception inner) : base(message, inner) { }
}
