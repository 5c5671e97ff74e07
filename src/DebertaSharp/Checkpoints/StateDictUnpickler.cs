using System.Buffers.Binary;
using System.Text;
using TorchSharp;

namespace DebertaSharp.Checkpoints;

/// <summary>
/// A minimal, safe reader of the pickle that <c>torch.save(state_dict)</c> writes as <c>data.pkl</c>.
/// It runs no code: it understands the opcodes a state dict needs (protocols 2 to 5) and exactly these globals:
/// <c>collections.OrderedDict</c>, <c>torch._utils._rebuild_tensor_v2</c>, <c>torch._utils._rebuild_parameter</c>
/// and the typed storage classes (<c>torch.FloatStorage</c>, ...). Anything else is refused with a
/// <see cref="CheckpointException"/> naming it.
/// </summary>
internal sealed class StateDictUnpickler
{
    /// <summary>A reference to one storage record of the archive (<c>data/&lt;key&gt;</c>).</summary>
    internal sealed record StorageRef(string Key, string StorageClass, torch.ScalarType DType, long ElementCount);

    /// <summary>A tensor as a strided view of a storage.</summary>
    internal sealed record TensorRef(StorageRef Storage, long StorageOffset, long[] Size, long[] Stride);

    /// <summary>A Python dict (or OrderedDict) in insertion order.</summary>
    internal sealed class PyDict
    {
        public List<KeyValuePair<object?, object?>> Items { get; } = [];
    }

    private sealed record PyGlobal(string Module, string Name)
    {
        public string FullName => $"{Module}.{Name}";
    }

    private sealed record PyTuple(object?[] Items);

    private sealed class Mark
    {
        public static readonly Mark Instance = new();
    }

    private static readonly Dictionary<string, torch.ScalarType> StorageTypes = new(StringComparer.Ordinal)
    {
        ["FloatStorage"] = torch.ScalarType.Float32,
        ["HalfStorage"] = torch.ScalarType.Float16,
        ["BFloat16Storage"] = torch.ScalarType.BFloat16,
        ["DoubleStorage"] = torch.ScalarType.Float64,
        ["LongStorage"] = torch.ScalarType.Int64,
        ["IntStorage"] = torch.ScalarType.Int32,
        ["ShortStorage"] = torch.ScalarType.Int16,
        ["CharStorage"] = torch.ScalarType.Int8,
        ["ByteStorage"] = torch.ScalarType.Byte,
        ["BoolStorage"] = torch.ScalarType.Bool,
    };

    private const int MaxMemo = 1 << 24;

    private readonly byte[] _data;
    private readonly string _source;
    private int _pos;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<int, object?> _memo = [];

    private StateDictUnpickler(byte[] data, string source)
    {
        _data = data;
        _source = source;
    }

    /// <summary>Reads the pickle and returns its top-level object (a <see cref="PyDict"/> for a state dict).</summary>
    /// <param name="data">The pickle bytes.</param>
    /// <param name="source">The file and entry name, for messages.</param>
    internal static object? Load(byte[] data, string source) => new StateDictUnpickler(data, source).Run();

    private CheckpointException Error(string detail) =>
        new($"Cannot read the pickle '{_source}' at byte {_pos}: {detail}");

    private object? Run()
    {
        while (true)
        {
            int opAt = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    byte proto = ReadByte();
                    if (proto > 5) throw Error($"pickle protocol {proto} is not supported.");
                    break;
                case 0x95: // FRAME: framing is only a hint for buffered readers.
                    ReadBytes(8);
                    break;
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Error("the pickle ends with an unbalanced stack.");
                    return _stack[0];
                case (byte)'(': // MARK
                    _marks.Push(_stack.Count);
                    break;
                case (byte)'}': Push(new PyDict()); break; // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)')': Push(new PyTuple([])); break; // EMPTY_TUPLE
                case (byte)'N': Push(null); break; // NONE
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break; // BININT
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break; // BININT2
                case 0x8a: Push(ReadLong1()); break; // LONG1
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                case (byte)'X': Push(ReadUtf8(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // BINUNICODE
                case 0x8c: Push(ReadUtf8(ReadByte())); break; // SHORT_BINUNICODE
                case 0x8d: Push(ReadUtf8(BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8)))); break; // BINUNICODE8
                case (byte)'C': Push(ReadBytes(ReadByte()).ToArray()); break; // SHORT_BINBYTES
                case (byte)'B': Push(ReadBytes(Checked(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))).ToArray()); break; // BINBYTES
                case (byte)'q': Memo(ReadByte()); break; // BINPUT
                case (byte)'r': Memo(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))); break; // LONG_BINPUT
                case 0x94: Memo((uint)_memo.Count); break; // MEMOIZE
                case (byte)'h': Push(Recall(ReadByte())); break; // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // LONG_BINGET
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopMark(); break; // POP_MARK
                case (byte)'2': Push(Peek()); break; // DUP
                case (byte)'t': Push(new PyTuple(PopMark().ToArray())); break; // TUPLE
                case 0x85: Push(new PyTuple([Pop()])); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new PyTuple([a, b])); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new PyTuple([a, b, c])); break; } // TUPLE3
                case (byte)'l': Push(PopMark()); break; // LIST
                case (byte)'d': // DICT
                {
                    var items = PopMark();
                    var dict = new PyDict();
                    SetItems(dict, items);
                    Push(dict);
                    break;
                }
                case (byte)'a': // APPEND
                {
                    var item = Pop();
                    AsList(Peek()).Add(item);
                    break;
                }
                case (byte)'e': // APPENDS
                {
                    var items = PopMark();
                    AsList(Peek()).AddRange(items);
                    break;
                }
                case (byte)'s': // SETITEM
                {
                    var value = Pop();
                    var key = Pop();
                    SetItems(AsDict(Peek()), new object?[] { key, value });
                    break;
                }
                case (byte)'u': // SETITEMS
                {
                    var items = PopMark();
                    SetItems(AsDict(Peek()), items);
                    break;
                }
                case (byte)'c': // GLOBAL
                    Push(Global(ReadLine(), ReadLine()));
                    break;
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Error("STACK_GLOBAL expects a string name.");
                    var module = Pop() as string ?? throw Error("STACK_GLOBAL expects a string module.");
                    Push(Global(module, name));
                    break;
                }
                case (byte)'R': // REDUCE
                {
                    var args = Pop() as PyTuple ?? throw Error("REDUCE expects a tuple of arguments.");
                    var callable = Pop();
                    Push(Call(callable, args.Items));
                    break;
                }
                case (byte)'b': // BUILD
                {
                    Pop(); // state: OrderedDict carries {'_metadata': ...}, tensors may carry Python attributes; none matter here.
                    var target = Peek();
                    if (target is not PyDict and not TensorRef)
                    {
                        throw Error($"BUILD on a {Describe(target)} is not supported.");
                    }
                    break;
                }
                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop()));
                    break;
                default:
                    _pos = opAt;
                    throw Error($"opcode 0x{op:x2} is not supported by this state-dict reader.");
            }
        }
    }

    private object Global(string module, string name)
    {
        var g = new PyGlobal(module, name);
        bool allowed = g.FullName is "collections.OrderedDict" or "torch._utils._rebuild_tensor_v2" or "torch._utils._rebuild_parameter"
            || (module == "torch" && StorageTypes.ContainsKey(name));
        if (!allowed)
        {
            throw new CheckpointException(
                $"Refusing to load '{_source}': its pickle names the global '{g.FullName}', which a state dict does not need " +
                "(only collections.OrderedDict, torch._utils._rebuild_tensor_v2/_rebuild_parameter and torch.*Storage are allowed; no code is run).");
        }
        return g;
    }

    private object? Call(object? callable, object?[] args)
    {
        if (callable is not PyGlobal g)
        {
            throw Error($"REDUCE calls a {Describe(callable)}, not an allowed global.");
        }
        switch (g.FullName)
        {
            case "collections.OrderedDict":
            {
                var dict = new PyDict();
                if (args.Length == 1 && args[0] is List<object?> pairs)
                {
                    foreach (var pair in pairs)
                    {
                        if (pair is not PyTuple { Items.Length: 2 } t) throw Error("OrderedDict expects (key, value) pairs.");
                        SetItems(dict, t.Items);
                    }
                }
                else if (args.Length != 0)
                {
                    throw Error($"OrderedDict called with {args.Length} arguments.");
                }
                return dict;
            }
            case "torch._utils._rebuild_tensor_v2":
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if (args.Length is < 6 or > 7) throw Error($"_rebuild_tensor_v2 called with {args.Length} arguments.");
                var storage = args[0] as StorageRef ?? throw Error($"_rebuild_tensor_v2 expects a storage, got a {Describe(args[0])}.");
                long offset = AsLong(args[1], "storage_offset");
                var size = AsLongs(args[2], "size");
                var stride = AsLongs(args[3], "stride");
                if (size.Length != stride.Length) throw Error($"size {TensorEntry.FormatShape(size)} and stride {TensorEntry.FormatShape(stride)} differ in rank.");
                return new TensorRef(storage, offset, size, stride);
            case "torch._utils._rebuild_parameter":
                // (data, requires_grad, backward_hooks)
                if (args.Length != 3) throw Error($"_rebuild_parameter called with {args.Length} arguments.");
                return args[0] as TensorRef ?? throw Error($"_rebuild_parameter expects a tensor, got a {Describe(args[0])}.");
            default:
                throw Error($"the global '{g.FullName}' cannot be called.");
        }
    }

    private StorageRef PersistentLoad(object? pid)
    {
        // ('storage', storage_type, key, location, numel)
        if (pid is not PyTuple { Items.Length: 5 } t || t.Items[0] is not "storage")
        {
            throw Error($"unsupported persistent id {Describe(pid)}; expected ('storage', type, key, location, numel).");
        }
        if (t.Items[1] is not PyGlobal { Module: "torch" } type || !StorageTypes.TryGetValue(type.Name, out var dtype))
        {
            throw Error($"unsupported storage type {Describe(t.Items[1])}.");
        }
        var key = t.Items[2] as string ?? throw Error("the storage key is not a string.");
        if (key.Length == 0 || key.Contains('/') || key.Contains('\\') || key.Contains(".."))
        {
            throw Error($"the storage key '{key}' is not a plain record name.");
        }
        long numel = AsLong(t.Items[4], "storage size");
        if (numel < 0) throw Error($"the storage '{key}' has the negative size {numel}.");
        return new StorageRef(key, type.Name, dtype, numel);
    }

    private void SetItems(PyDict dict, List<object?> items) => SetItems(dict, items.ToArray());

    private void SetItems(PyDict dict, object?[] items)
    {
        if (items.Length % 2 != 0) throw Error("a dict is built from an odd number of items.");
        for (int i = 0; i < items.Length; i += 2)
        {
            dict.Items.Add(new KeyValuePair<object?, object?>(items[i], items[i + 1]));
        }
    }

    private long AsLong(object? value, string what) =>
        value as long? ?? throw Error($"{what} is a {Describe(value)}, not an integer.");

    private long[] AsLongs(object? value, string what)
    {
        var items = value switch
        {
            PyTuple t => t.Items,
            List<object?> l => l.ToArray(),
            _ => throw Error($"{what} is a {Describe(value)}, not a tuple of integers."),
        };
        return items.Select(v => AsLong(v, what)).ToArray();
    }

    private List<object?> AsList(object? value) => value as List<object?> ?? throw Error($"APPEND to a {Describe(value)}.");

    private PyDict AsDict(object? value) => value as PyDict ?? throw Error($"SETITEM on a {Describe(value)}.");

    private static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"string '{s}'",
        long l => $"integer {l}",
        PyGlobal g => $"global '{g.FullName}'",
        PyTuple t => $"tuple of {t.Items.Length}",
        PyDict => "dict",
        List<object?> => "list",
        TensorRef => "tensor",
        StorageRef => "storage",
        _ => value.GetType().Name,
    };

    private void Push(object? value) => _stack.Add(value);

    private object? Pop()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _stack.Count == _marks.Peek())) throw Error("the stack is empty.");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _stack.Count == _marks.Peek())) throw Error("the stack is empty.");
        return _stack[^1];
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Error("no MARK to pop to.");
        int mark = _marks.Pop();
        var items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private void Memo(uint index)
    {
        if (index >= MaxMemo) throw Error($"memo index {index} is out of range.");
        _memo[(int)index] = Peek();
    }

    private object? Recall(uint index)
    {
        if (index >= MaxMemo || !_memo.TryGetValue((int)index, out var v)) throw Error($"memo index {index} was never stored.");
        return v;
    }

    private byte ReadByte()
    {
        if (_pos >= _data.Length) throw Error("the pickle ends without STOP.");
        return _data[_pos++];
    }

    private ReadOnlySpan<byte> ReadBytes(int count)
    {
        if (count < 0 || count > _data.Length - _pos) throw Error($"a {count}-byte field runs past the end of the pickle.");
        var span = new ReadOnlySpan<byte>(_data, _pos, count);
        _pos += count;
        return span;
    }

    private int Checked(ulong length)
    {
        if (length > (ulong)(_data.Length - _pos)) throw Error($"a {length}-byte field runs past the end of the pickle.");
        return (int)length;
    }

    private string ReadUtf8(ulong length)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(ReadBytes(Checked(length)));
        }
        catch (DecoderFallbackException)
        {
            throw Error("a string is not valid UTF-8.");
        }
    }

    private string ReadLine()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw Error("a GLOBAL name is not terminated.");
        var s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private long ReadLong1()
    {
        int n = ReadByte();
        if (n > 8) throw Error($"an integer of {n} bytes is too large.");
        var bytes = ReadBytes(n);
        long value = 0;
        for (int i = n - 1; i >= 0; i--)
        {
            value = (value << 8) | bytes[i];
        }
        if (n is > 0 and < 8 && (bytes[n - 1] & 0x80) != 0)
        {
            value -= 1L << (8 * n); // two's complement sign
        }
        return value;
    }
}
