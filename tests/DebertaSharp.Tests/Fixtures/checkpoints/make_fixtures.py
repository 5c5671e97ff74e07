"""Generates the small PyTorch-zip fixtures in this folder with Python's own pickle module, without torch.

Run once during development (python3 make_fixtures.py); the tests read the committed outputs and never run Python.
Fake `torch` / `torch._utils` modules make pickle emit exactly the globals torch.save writes:
GLOBAL 'torch._utils _rebuild_tensor_v2', 'torch FloatStorage', BINPERSID ('storage', type, key, 'cpu', numel).
"""
import collections, io, pickle, struct, sys, types, zipfile

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
torch._utils = utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = utils


def _rebuild_tensor_v2(*args):
    raise RuntimeError("never called")


def _rebuild_parameter(*args):
    raise RuntimeError("never called")


for f in (_rebuild_tensor_v2, _rebuild_parameter):
    f.__module__ = "torch._utils"
    setattr(utils, f.__name__, f)

STORAGE_FORMATS = {  # class name -> struct format of one element
    "FloatStorage": "f", "HalfStorage": "e", "BFloat16Storage": None, "DoubleStorage": "d",
    "LongStorage": "q", "IntStorage": "i", "ShortStorage": "h", "CharStorage": "b",
    "ByteStorage": "B", "BoolStorage": "?",
}
for name in STORAGE_FORMATS:
    cls = type(name, (), {"__module__": "torch"})
    setattr(torch, name, cls)


class Storage:
    def __init__(self, key, cls_name, values):
        self.key, self.cls, self.values = key, getattr(torch, cls_name), values
        fmt = STORAGE_FORMATS[cls_name]
        if fmt is None:  # bfloat16 = upper half of the float32 bits (values chosen to be exact)
            self.data = b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)
        else:
            self.data = struct.pack("<" + fmt * len(values), *values)


class Tensor:
    def __init__(self, storage, offset, size, stride, parameter=False):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())
        self.parameter = parameter

    def __reduce_ex__(self, protocol):
        if self.parameter:
            return (_rebuild_parameter, (Tensor(*self.args[:4]), False, collections.OrderedDict()))
        return (_rebuild_tensor_v2, self.args)


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cpu", len(obj.values))
        return None


def write_archive(path, prefix, state, storages):
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(prefix + "/data.pkl", buf.getvalue())
        z.writestr(prefix + "/byteorder", "little")
        for s in storages:
            z.writestr(prefix + "/data/" + s.key, s.data)
        z.writestr(prefix + "/version", "3\n")


# views.bin: one float storage arange(24) viewed many ways, plus one storage per dtype.
f32 = Storage("0", "FloatStorage", [float(i) for i in range(24)])
half = Storage("1", "HalfStorage", [1.0, -2.5, 0.333251953125, 65504.0])
bf16 = Storage("2", "BFloat16Storage", [1.0, -3.140625, 1e-3])
i64 = Storage("3", "LongStorage", [-1, 2 ** 40, 7])
boolean = Storage("4", "BoolStorage", [True, False, True])
f64 = Storage("5", "DoubleStorage", [0.1, -1e300])
i32 = Storage("6", "IntStorage", [-(2 ** 31), 5])
i16 = Storage("7", "ShortStorage", [-300, 300])
i8 = Storage("8", "CharStorage", [-128, 127])
u8 = Storage("9", "ByteStorage", [0, 255])
state = collections.OrderedDict()
state["full"] = Tensor(f32, 0, (4, 6), (6, 1))
state["transposed"] = Tensor(f32, 0, (6, 4), (1, 6))
state["row2"] = Tensor(f32, 12, (6,), (1,))
state["column1"] = Tensor(f32, 1, (4,), (6,))
state["scalar"] = Tensor(f32, 5, (), ())
state["param"] = Tensor(f32, 0, (24,), (1,), parameter=True)
state["empty"] = Tensor(f32, 0, (0, 3), (3, 1))
state["half"] = Tensor(half, 0, (2, 2), (2, 1))
state["bf16"] = Tensor(bf16, 0, (3,), (1,))
state["long"] = Tensor(i64, 0, (3,), (1,))
state["bool"] = Tensor(boolean, 0, (3,), (1,))
state["double"] = Tensor(f64, 0, (2,), (1,))
state["int"] = Tensor(i32, 0, (2,), (1,))
state["short"] = Tensor(i16, 0, (2,), (1,))
state["char"] = Tensor(i8, 0, (2,), (1,))
state["byte"] = Tensor(u8, 0, (2,), (1,))
state._metadata = collections.OrderedDict([("", {"version": 1})])
write_archive("views.bin", "views_archive", state, [f32, half, bf16, i64, boolean, f64, i32, i16, i8, u8])

# legacy.bin: the start of a pre-1.6 torch.save stream (magic number, protocol version, sys info pickles).
with open("legacy.bin", "wb") as f:
    for obj in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(obj, f, protocol=2)
