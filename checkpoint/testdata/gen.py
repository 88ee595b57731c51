#!/usr/bin/python3
"""Generate the checkpoint package's test fixtures with PyTorch 1.13.

Run from anywhere with Debian's torch (the Go tests never need Python):

    /usr/bin/python3 checkpoint/testdata/gen.py

It writes, next to itself:

  tiny.pt                 state_dict of a conv+BN+linear net (torch.save zip)
  tiny_wrapped.pt         {'state_dict': sd, 'epoch': 3, 'optimizer': ..., ...}
                          saved with pickle protocol 5
  tiny_dataparallel.pt    DataParallel(net).state_dict() ("module." keys),
                          pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL...)
  tiny_legacy.pt          the same state_dict in the pre-1.6 non-zip format
                          (its storage keys are memory addresses, so this one
                          file differs from run to run)
  tiny.safetensors        the same state_dict, safetensors written by hand
                          (the safetensors package is not installed)
  dtypes.pt, dtypes.safetensors
                          F16, BF16, F64, I64, I32, I16, I8, U8 and BOOL tensors
  noncontig.pt            transposed, sliced, expanded, channels_last,
                          shared-storage, tied, 0-d and empty tensors
  expected.json           for each of the sets "tiny", "dtypes", "noncontig":
                          entries in order with name, dtype, shape and the
                          float32 bit pattern of every value (what the Go
                          reader must produce: values converted to float32,
                          views materialised row-major)

and files that must be refused. They are written as bytes and NEVER loaded
here; each would run `touch /tmp/ebyd_pwned` if torch.load'ed:

  mal_os_system.pt        GLOBAL os.system + REDUCE
  mal_builtins_eval.pt    GLOBAL builtins.eval + REDUCE
  mal_subprocess_popen.pt STACK_GLOBAL subprocess.Popen + REDUCE (protocol 4)
  mal_reduce.pt           a genuine torch.save of a state_dict with an object
                          whose __reduce__ returns (os.system, (...)): the
                          pickle names posix.system after the real tensors
  numpy_scalar.pt         loads: {'state_dict': sd, 'best_acc':
                          numpy.float64}; the numpy value is skipped
  attack_result_like.pt   loads: BackdoorBench-style {'model': sd, numpy
                          arrays, an argparse.Namespace, ...} beside it
  whole_model.pt          harmless but refused: torch.save(model) of an
                          nn.Sequential (torch.nn module classes)

Checking that Go-written files load in PyTorch (done by hand, not in go test):

    mkdir -p /tmp/ebyd_export
    CHECKPOINT_EXPORT_DIR=/tmp/ebyd_export go test ./checkpoint/ -run TestExportForPython
    /usr/bin/python3 checkpoint/testdata/gen.py verify /tmp/ebyd_export

The Go test reads every fixture set and writes it back with WritePT and
WriteSafetensors; `verify` loads each .pt with torch.load(weights_only=True)
(so torch's own restricted unpickler accepts it too) and each .safetensors
with a hand-written parser, and checks names, order, shapes, dtypes and value
bits against expected.json.
"""

import collections
import copy
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
MARKER = "/tmp/ebyd_pwned"

DTYPE_NAMES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
TORCH_DTYPES = {v: k for k, v in DTYPE_NAMES.items()}


def out(name):
    return os.path.join(HERE, name)


def tiny_net():
    torch.manual_seed(1)
    net = torch.nn.Sequential(collections.OrderedDict([
        ("conv", torch.nn.Conv2d(1, 2, 3)),
        ("bn", torch.nn.BatchNorm2d(2)),
        ("flat", torch.nn.Flatten()),
        ("fc", torch.nn.Linear(18, 3)),
    ]))
    net.train()
    with torch.no_grad():
        for _ in range(3):  # non-trivial running stats, num_batches_tracked = 3
            net(torch.randn(4, 1, 5, 5))
    return net


def dtypes_sd():
    torch.manual_seed(2)
    sd = collections.OrderedDict()
    sd["half"] = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6e-8, 1e-4, float("inf"),
                               float("-inf"), 0.333], dtype=torch.float16)
    sd["bfloat"] = torch.tensor([1.0, -3.140625, 1e30, 1e-30, 0.1], dtype=torch.bfloat16)
    sd["double"] = torch.cat([torch.randn(5, dtype=torch.float64),
                              torch.tensor([1e-40, 1e-50, 1e300, 0.1], dtype=torch.float64)]).reshape(3, 3)
    sd["long"] = torch.tensor([0, 1, -1, 3, 2**24, 123456789012, -(2**40)], dtype=torch.int64)
    sd["int"] = torch.tensor([[7, -8], [2**31 - 1, -2**31]], dtype=torch.int32)
    sd["short"] = torch.tensor([-32768, 32767, 5], dtype=torch.int16)
    sd["char"] = torch.tensor([-128, 127, 0], dtype=torch.int8)
    sd["byte"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd["mask"] = torch.tensor([[True, False], [False, True]])
    sd["count"] = torch.tensor(3, dtype=torch.int64)  # 0-d, like num_batches_tracked
    return sd


def noncontig_sd():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8
    shared = torch.arange(10, dtype=torch.float32) - 4.5
    sd = collections.OrderedDict()
    sd["transposed"] = base.t()
    sd["sliced"] = base[1:3, ::2]
    sd["expanded"] = torch.tensor([1.5, -2.0]).expand(3, 2)
    sd["channels_last"] = (torch.arange(2 * 3 * 2 * 2, dtype=torch.float32) * 0.25).reshape(
        2, 3, 2, 2).contiguous(memory_format=torch.channels_last)
    sd["shared"] = shared
    sd["shared_tail"] = shared[6:]
    sd["tied"] = shared
    sd["scalar"] = torch.tensor(2.75)
    sd["empty"] = torch.zeros(0, 3)
    return sd


def expected(sd):
    entries = []
    for name, t in sd.items():
        f = t.detach().to(torch.float32).contiguous().reshape(-1)
        bits = [int(b) & 0xFFFFFFFF for b in f.view(torch.int32).tolist()]
        entries.append({"name": name, "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "bits": bits})
    return entries


def raw_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, sd, metadata=None):
    header, data, off = {}, b"", 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in sd.items():
        b = raw_bytes(t)
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        data += b
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def pickle_zip(path, payload):
    """A torch.save-shaped zip whose data.pkl is the given pickle bytes."""
    pickletools_check(payload)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in (("archive/data.pkl", payload), ("archive/version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def pickletools_check(payload):
    # Disassemble (never load) to make sure the bytes are a valid pickle.
    import io
    import pickletools
    pickletools.dis(payload, out=io.StringIO())


def binunicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def short_binunicode(s):
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + MARKER,))


def generate():
    net = tiny_net()
    # A snapshot: state_dict() tensors alias the live parameters, which the
    # optimizer step below changes.
    sd = copy.deepcopy(net.state_dict())
    torch.save(sd, out("tiny.pt"))
    torch.save(torch.nn.DataParallel(net).state_dict(), out("tiny_dataparallel.pt"), pickle_protocol=4)
    torch.save(sd, out("tiny_legacy.pt"), _use_new_zipfile_serialization=False)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net.eval()
    net(torch.randn(2, 1, 5, 5)).sum().backward()
    opt.step()  # optimizer state holds momentum tensors (not the model's)
    torch.save({"state_dict": sd, "epoch": 3, "best_acc": 0.875, "arch": "tiny",
                "optimizer": opt.state_dict()}, out("tiny_wrapped.pt"), pickle_protocol=5)
    write_safetensors(out("tiny.safetensors"), sd, {"format": "pt", "arch": "tiny"})

    dsd = dtypes_sd()
    torch.save(dsd, out("dtypes.pt"))
    write_safetensors(out("dtypes.safetensors"), dsd)
    nsd = noncontig_sd()
    torch.save(nsd, out("noncontig.pt"))

    with open(out("expected.json"), "w") as f:
        json.dump({"tiny": expected(sd), "dtypes": expected(dsd), "noncontig": expected(nsd)}, f, indent=0)
        f.write("\n")

    cmd = "touch " + MARKER
    pickle_zip(out("mal_os_system.pt"),
               b"\x80\x02cos\nsystem\nq\x00" + binunicode(cmd) + b"\x85R.")
    pickle_zip(out("mal_builtins_eval.pt"),
               b"\x80\x02cbuiltins\neval\n" + binunicode("__import__('os').system(%r)" % cmd) + b"\x85R.")
    pickle_zip(out("mal_subprocess_popen.pt"),
               b"\x80\x04" + short_binunicode("subprocess") + short_binunicode("Popen") + b"\x93"
               + b"](" + short_binunicode("touch") + short_binunicode(MARKER) + b"e\x85R.")
    evil = collections.OrderedDict(sd)
    evil["evil"] = Evil()
    torch.save(evil, out("mal_reduce.pt"))
    torch.save({"state_dict": sd, "best_acc": np.float64(0.5)}, out("numpy_scalar.pt"))
    save_attack_result_like(sd, out("attack_result_like.pt"))
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 1)), out("whole_model.pt"))

    total = sum(os.path.getsize(out(n)) for n in os.listdir(HERE) if n != "gen.py")
    print("fixtures written, %d bytes in total" % total)


def save_attack_result_like(sd, path):
    """A checkpoint shaped like BackdoorBench's attack_result.pt: the model's
    state dict beside numpy arrays, numpy scalars and the run's arguments."""
    import argparse
    args = argparse.Namespace(lr=0.01, attack="badnet", target=0)
    torch.save({
        "model_name": "tiny",
        "num_classes": 2,
        "model": sd,
        "bd_train": {"poison_indicator": np.array([0, 1, 0, 1], dtype=np.int64),
                     "x": np.zeros((2, 3, 3), dtype=np.uint8)},
        "acc": np.float32(0.5),
        "args": args,
    }, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n:]
    sd = collections.OrderedDict()
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = info["data_offsets"]
        dt = TORCH_DTYPES[info["dtype"]]
        chunk = bytearray(body[b:e])
        if dt == torch.bfloat16:
            t = torch.frombuffer(chunk, dtype=torch.int16).view(torch.bfloat16) if chunk else torch.zeros(0, dtype=dt)
        else:
            t = torch.frombuffer(chunk, dtype=dt) if chunk else torch.zeros(0, dtype=dt)
        sd[name] = t.reshape(info["shape"])
    return sd


def verify(directory):
    """Check Go-written files (see the module docstring) against expected.json."""
    with open(out("expected.json")) as f:
        want = json.load(f)
    checked = 0
    for set_name, entries in want.items():
        for ext in ("pt", "safetensors"):
            path = os.path.join(directory, "%s.%s" % (set_name, ext))
            if ext == "pt":
                sd = torch.load(path, weights_only=True)
                assert isinstance(sd, collections.OrderedDict), type(sd)
            else:
                sd = read_safetensors(path)
            got = expected(sd)
            assert [e["name"] for e in got] == [e["name"] for e in entries], path
            for g, w in zip(got, entries):
                assert g == w, (path, g["name"], g, w)
            checked += 1
            print("ok", path, len(got), "tensors")
    print("verified %d files" % checked)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "verify":
        verify(sys.argv[2])
    else:
        generate()
