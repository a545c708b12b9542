"""Reading model.pt2 without running anything it contains (lm-speedrun's evaluator).

`torch.export.load` is not safe on an untrusted archive: it unpickles weights marked `use_pickle`
and the sample inputs with `torch.load(weights_only=False)` (any Python code), evaluates
symbolic-shape strings with `sympy.sympify` (Python `eval`), `exec`s the archive's
`guards_code`, resolves a node's target by walking attributes of `torch` (so `torch.os.system`
is a target), and pastes node names and stack traces into the Python source it generates for the
module. TorchScript archives are worse: `torch.jit.load` runs the archive's own code
(`__setstate__`) while loading. So this module accepts only torch.export archives, reads them
itself, and gives torch nothing but what it has checked:

- the zip may hold only the files torch.export.save writes for one program (an allow-list of
  names); no pickle is ever read (the sample-inputs pickle torch writes is ignored), weights and
  constants must be raw tensor storage (`use_pickle` false), no custom or opaque objects, no
  AOTInductor libraries, no extra files;
- the program JSON is rebuilt from scratch out of checked fields: every name is an identifier,
  every node target is an aten operator (or `getitem`, or the autocast / grad-mode wrappers),
  operators with effects outside their tensors (file I/O, printing, seeding, autograd) are
  refused, shapes are plain integers (no symbolic expressions), no guards code, no metadata;
- every call of the model gets a fresh module built from the archive's bytes (`Archive.fresh`),
  so nothing a call changes can reach the next call.

Only the evaluator imports this module; it never imports candidate code.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from program import DTYPES, FQN, IDENT, Invalid, fail, fields, ident, program, tensor_meta

__all__ = ["Archive", "Invalid", "read"]


MAX_ARCHIVE_BYTES = 1 << 30  # uncompressed; the largest model the knobs allow is ~60 MB
MAX_JSON_BYTES = 64 << 20

# The files torch.export.save writes for one program named "model" (paths under the archive's
# top folder). sample_inputs/model.pt is a pickle of the example inputs: allowed, never read.
FIXED_FILES = {
    "archive_format": re.compile(r"pt2"),
    "archive_version": re.compile(r"[0-9]{1,4}"),
    "byteorder": re.compile(r"little"),
    ".data/version": re.compile(r"[0-9]{1,4}\n?"),
    ".data/serialization_id": re.compile(r"[0-9]{1,64}"),
}
PROGRAM = "models/model.json"
WEIGHTS_CONFIG = "data/weights/model_weights_config.json"
CONSTANTS_CONFIG = "data/constants/model_constants_config.json"
IGNORED = "data/sample_inputs/model.pt"
WEIGHT_FILE = re.compile(r"data/weights/(weight_[0-9]{1,6})")
CONSTANT_FILE = re.compile(r"data/constants/(tensor_[0-9]{1,6})")


@dataclass
class Payload:
    """One weight or constant: raw little-endian storage plus how to view it."""

    fqn: str
    file: str
    is_param: bool
    meta: dict[str, Any]


def payloads(raw: bytes, which: str, pattern: re.Pattern[str], files: dict[str, bytes]) -> list[Payload]:
    try:
        cfg = json.loads(raw)
    except (ValueError, RecursionError):
        raise fail(f"{which} is not JSON") from None
    entries = fields(cfg, {"config"}, which).get("config")
    if not isinstance(entries, dict):
        raise fail(f"{which} is malformed")
    out = []
    for fqn, e in entries.items():
        e = fields(e, {"path_name", "is_param", "use_pickle", "tensor_meta"}, f"{which} entry")
        if e.get("use_pickle") is not False:
            raise fail(f"{ident(fqn, 'a weight name', FQN)!r} is stored as a pickle (only raw "
                        "tensor storage is accepted: no pickles, custom or opaque objects)")
        path = e.get("path_name")
        if not isinstance(path, str) or not pattern.fullmatch(f"{which.rsplit('/', 1)[0]}/{path}"):
            raise fail(f"{fqn[:60]!r} points at {str(path)[:60]!r}, not a raw tensor file")
        if path not in files:
            raise fail(f"{fqn[:60]!r}: its file {path!r} is missing")
        meta = tensor_meta(e.get("tensor_meta"), f"weight {fqn[:40]!r}")
        out.append(Payload(ident(fqn, "a weight name", FQN), path, bool(e.get("is_param")), meta))
    return out


@dataclass
class Archive:
    """A checked model.pt2: the rebuilt program and the raw bytes of every tensor."""

    program_json: str
    weights: list[Payload]
    constants: list[Payload]
    files: dict[str, bytes]
    serialized: Any = None  # the program as torch's schema dataclass, once converted
    template: Any = None  # (program, its weights, its constants): deserialized once, never called

    def _flat(self, file: str, dtype_code: int) -> Any:
        """A fresh, writable copy of one tensor file's bytes: no tensor is shared by two loads."""
        import torch

        dtype = getattr(torch, DTYPES[dtype_code])
        data = self.files[file]
        item = torch.empty((), dtype=dtype).element_size()
        if len(data) % item:
            raise fail(f"{file!r}: {len(data)} bytes is not a whole number of {dtype} values")
        return torch.frombuffer(bytearray(data), dtype=dtype) if data else torch.zeros(0, dtype=dtype)

    def state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Fresh tensors for the weights and the constants, and the flat storage of every file."""
        import torch

        flats: dict[str, Any] = {}
        out: list[dict[str, Any]] = [{}, {}]
        for i, group in enumerate((self.weights, self.constants)):
            for p in group:
                if p.file not in flats:
                    flats[p.file] = self._flat(p.file, p.meta["dtype"])
                flat = flats[p.file]
                if flat.dtype != getattr(torch, DTYPES[p.meta["dtype"]]):
                    raise fail(f"{p.fqn!r} views {p.file!r} with another dtype")
                sizes = [s["as_int"] for s in p.meta["sizes"]]
                strides = [s["as_int"] for s in p.meta["strides"]]
                offset = p.meta["storage_offset"]["as_int"]
                if all(sizes):
                    last = offset + sum((n - 1) * st for n, st in zip(sizes, strides, strict=True))
                    if last >= flat.numel():
                        raise fail(f"{p.fqn!r} reaches past its storage ({flat.numel()} values)")
                t = torch.as_strided(flat, sizes, strides, offset)
                out[i][p.fqn] = torch.nn.Parameter(t, requires_grad=False) if p.is_param else t
        return out[0], out[1], flats

    def changed(self, flats: dict[str, Any]) -> list[str]:
        """The tensor files whose fresh copies no longer hold the archive's bytes."""
        import torch

        return [f for f, flat in flats.items()
                if bytes(flat.view(torch.uint8).numpy()) != self.files[f]]

    def _deserialize(self, weights: dict[str, Any], constants: dict[str, Any]) -> Any:
        from torch._export.serde import schema
        from torch._export.serde.serialize import ExportedProgramDeserializer, _dict_to_dataclass

        if self.serialized is None:  # read-only input of the deserializer: made once
            self.serialized = _dict_to_dataclass(schema.ExportedProgram, json.loads(self.program_json))
        return ExportedProgramDeserializer().deserialize(self.serialized, weights, constants, None)

    def fresh(self) -> tuple[Any, dict[str, Any]]:
        """A new module from the archive's bytes, and its storage (for `changed` after a call).

        The program is deserialized once into a template that is never called; each call gets a
        deep copy of it holding fresh tensors (about half the cost of deserializing again)."""
        import copy
        import warnings

        try:
            weights, constants, flats = self.state()
            if self.template is None:  # its own tensors: no call ever sees them
                w0, c0, _ = self.state()
                self.template = (self._deserialize(w0, c0), w0, c0)
            ep0, w0, c0 = self.template
            memo = {id(w0[k]): weights[k] for k in w0} | {id(c0[k]): constants[k] for k in c0}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch's own pytree notice
                ep = copy.deepcopy(ep0, memo)
            fresh_ids = {id(t) for t in (*weights.values(), *constants.values())}
            if any(id(t) not in fresh_ids for t in (*ep.state_dict.values(), *ep.constants.values())):
                ep = self._deserialize(weights, constants)  # a tensor the copy did not map
            module = ep.module()
        except Invalid:
            raise
        except Exception as e:  # noqa: BLE001 - anything torch refuses makes the artifact invalid
            raise Invalid(f"model.pt2 cannot be loaded: {type(e).__name__}: {str(e)[:300]}") from None
        return module, flats


def read(path: Path) -> Archive:
    """Check model.pt2 against the allow-list; read it into memory (nothing is deserialized)."""
    if path.is_symlink() or not path.is_file():
        raise Invalid(f"no {path.name} artifact: train.py must save the model as {path.name}")
    if not zipfile.is_zipfile(path):
        raise Invalid(f"{path.name} is not a torch.export archive (torch.export.save)")
    try:
        return _read(path)
    except Invalid:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged zip (bad CRC, truncated, ...) is invalid
        raise Invalid(f"{path.name} cannot be read: {type(e).__name__}: {str(e)[:200]}") from None


def _read(path: Path) -> Archive:
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise fail("the zip holds two entries with the same name")
        tops = {n.split("/", 1)[0] for n in names}
        rels = [n.split("/", 1)[1] if "/" in n else "" for n in names]
        if any(r in ("data.pkl", "constants.pkl") or r.startswith("code/") for r in rels):
            raise Invalid(f"{path.name} is a TorchScript archive: not accepted (loading one runs "
                          "code stored in it); save a torch.export program with torch.export.save")
        if len(tops) != 1 or not IDENT.fullmatch(next(iter(tops))) or "" in rels:
            raise fail("the zip must hold one top folder and files under it (as torch.export.save "
                       "writes it)")
        if sum(i.file_size for i in infos) > MAX_ARCHIVE_BYTES:
            raise fail(f"it holds more than {MAX_ARCHIVE_BYTES >> 20} MiB")
        files: dict[str, bytes] = {}
        seen: set[str] = set()
        for info, rel in zip(infos, rels, strict=True):
            if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED,
                                                                  zipfile.ZIP_DEFLATED):
                raise fail(f"{rel!r} is encrypted or compressed in an unusual way")
            if rel == IGNORED:
                continue
            if rel in FIXED_FILES:
                if info.file_size > 200:
                    raise fail(f"{rel!r} is too large")
                text = z.read(info).decode("ascii", "replace")
                if not FIXED_FILES[rel].fullmatch(text):
                    raise fail(f"{rel!r} holds {text[:40]!r}")
                seen.add(rel)
                continue
            m = WEIGHT_FILE.fullmatch(rel) or CONSTANT_FILE.fullmatch(rel)
            if m:
                files[m.group(1)] = z.read(info)
            elif rel in (PROGRAM, WEIGHTS_CONFIG, CONSTANTS_CONFIG):
                if info.file_size > MAX_JSON_BYTES:
                    raise fail(f"{rel!r} is too large")
                files[rel] = z.read(info)
            else:
                raise fail(f"unexpected file {rel[:100]!r} (allowed: the program JSON, the "
                            "weights and constants configs, raw tensor files, torch's metadata)")
    missing = [f for f in (PROGRAM, WEIGHTS_CONFIG, CONSTANTS_CONFIG) if f not in files]
    missing += [f for f in ("archive_format", "archive_version") if f not in seen]
    if missing:
        raise fail(f"{missing[0]!r} is missing")
    prog = program(files.pop(PROGRAM))
    weights = payloads(files.pop(WEIGHTS_CONFIG), WEIGHTS_CONFIG, WEIGHT_FILE, files)
    constants = payloads(files.pop(CONSTANTS_CONFIG), CONSTANTS_CONFIG, CONSTANT_FILE, files)
    used = {p.file for p in weights + constants}
    if set(files) - used:
        raise fail(f"tensor files no weight uses: {sorted(set(files) - used)[:5]}")
    _check_inputs_match(prog, weights, constants)
    return Archive(json.dumps(prog), weights, constants, files)


def _check_inputs_match(prog: dict[str, Any], weights: list[Payload], constants: list[Payload]) -> None:
    """Every parameter, buffer and constant the program takes has stored data, and nothing else."""
    need = set()
    for spec in prog["graph_module"]["signature"]["input_specs"]:
        ((kind, v),) = spec.items()
        if kind != "user_input":
            need.add(v[{"parameter": "parameter_name", "buffer": "buffer_name",
                        "tensor_constant": "tensor_constant_name"}[kind]])
    have = {p.fqn for p in weights} | {p.fqn for p in constants}
    if need != have:
        raise fail(f"stored tensors do not match the program's inputs "
                    f"(missing {sorted(need - have)[:3]}, extra {sorted(have - need)[:3]})")
