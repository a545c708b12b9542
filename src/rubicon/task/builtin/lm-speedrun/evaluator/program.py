"""The program JSON of a torch.export archive, rebuilt out of checked fields only.

`program(raw)` returns a serialized ExportedProgram (as a dict) that holds nothing torch would
evaluate or paste into code unchecked: every name is an identifier, every node target an aten
operator (or `getitem`, or the autocast / grad-mode wrappers) with no effect outside its
tensors, every shape a plain integer (no symbolic expressions, which torch parses with
`sympy.sympify`, i.e. `eval`), no guards code (which torch `exec`s), no metadata (stack traces
end up in generated source), one tensor in and one tensor out, no mutated-state outputs.
"""

from __future__ import annotations

import json
import re
from typing import Any


class Invalid(Exception):
    """The artifact is not an acceptable model; the message is the reason."""


MAX_NODES = 50_000  # the largest model the knobs allow (8 layers, 8 heads, one module each) has ~1,100
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
FQN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+){0,31}")
SUBGRAPH = re.compile(r"submod_[0-9]{1,6}")
OP = re.compile(r"torch\.ops\.aten\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)")

# Serialized dtype codes (torch._export.serde.schema.ScalarType) a model may store or use.
DTYPES = {1: "uint8", 2: "int8", 3: "int16", 4: "int32", 5: "int64", 6: "float16", 7: "float32",
          8: "float64", 12: "bool", 13: "bfloat16"}
STRIDED = 7  # schema.Layout.Strided

# Operators: aten only. Refused: effects outside the returned tensors, and anything returning
# nothing except shape assertions (which only raise).
DENIED_OPS = {"from_file", "save", "_print", "warn", "manual_seed", "set_grad_enabled", "backward",
              "_backward", "seed", "initial_seed", "_set_grad_enabled",
              # uninitialized memory can hold what an earlier call (or the evaluator) freed
              "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided",
              "empty_permuted", "resize", "resize_", "resize_as_", "_resize_output_", "set_"}
ASSERT_OPS = {"_assert_async", "_assert_scalar", "_assert_tensor_metadata", "sym_constrain_range",
              "sym_constrain_range_for_size"}
WRAPPERS = {"torch.ops.higher_order.wrap_with_autocast",
            "torch.ops.higher_order.wrap_with_set_grad_enabled"}
GETITEM = "_operator.getitem"

# Argument kinds a node may use (schema.Argument); symbolic values, custom objects, operators as
# arguments, complex numbers and nested tensors are refused.
PLAIN_ARGS = {"as_none", "as_int", "as_ints", "as_float", "as_floats", "as_bool", "as_bools",
              "as_scalar_type", "as_memory_format", "as_layout", "as_int_lists", "as_float_lists"}


def fail(what: str) -> Invalid:
    return Invalid(f"model.pt2 is not an acceptable torch.export program: {what}")


def ident(x: Any, what: str, pattern: re.Pattern[str] = IDENT) -> str:
    if not isinstance(x, str) or not pattern.fullmatch(x):
        raise fail(f"{what} {str(x)[:60]!r} is not a plain name")
    return x


def _int(x: Any, what: str, low: int = 0) -> int:
    if type(x) is not int or x < low:
        raise fail(f"{what} must be an integer >= {low}, got {str(x)[:40]!r}")
    return x


def fields(d: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise fail(f"{what} is not an object")
    extra = set(d) - allowed
    if extra:
        raise fail(f"{what} has unexpected fields {sorted(extra)[:5]}")
    return d


def _one_of(d: Any, allowed: set[str], what: str) -> tuple[str, Any]:
    """A serialized union: exactly one key, which must be allowed."""
    if not isinstance(d, dict) or len(d) != 1:
        raise fail(f"{what} is not a single-field union")
    ((k, v),) = d.items()
    if k not in allowed:
        raise fail(f"{what} of kind {k!r} is not accepted")
    return k, v


def _plain(v: Any, what: str, depth: int = 0) -> Any:
    """Numbers, booleans, None, the JSON spellings of inf and nan, and (nested) lists of them."""
    if isinstance(v, list) and depth < 2 and len(v) <= 100_000:
        return [_plain(x, what, depth + 1) for x in v]
    if v is None or isinstance(v, bool | int | float) or v in ("Infinity", "-Infinity", "NaN"):
        return v
    raise fail(f"malformed {what} argument {str(v)[:40]!r}")


def _sym_int(d: Any, what: str) -> int:
    _, v = _one_of(d, {"as_int"}, f"{what} (symbolic shapes are not accepted)")
    return _int(v, what)


def tensor_meta(m: Any, what: str) -> dict[str, Any]:
    m = fields(m, {"dtype", "sizes", "requires_grad", "device", "strides", "storage_offset",
                  "layout"}, what)
    if m.get("dtype") not in DTYPES:
        raise fail(f"{what} has dtype code {str(m.get('dtype'))[:20]!r} (allowed: "
                    f"{', '.join(DTYPES.values())})")
    if m.get("layout") != STRIDED:
        raise fail(f"{what} is not a dense strided tensor")
    dev = fields(m.get("device"), {"type", "index"}, f"{what} device")
    if dev.get("type") != "cpu" or dev.get("index") is not None:
        raise fail(f"{what} is not on the cpu")
    sizes, strides = m.get("sizes"), m.get("strides")
    if not isinstance(sizes, list) or not isinstance(strides, list) or len(sizes) != len(strides) \
            or len(sizes) > 8:
        raise fail(f"{what} has malformed sizes/strides")
    if not isinstance(m.get("requires_grad"), bool):
        raise fail(f"{what} has a malformed requires_grad")
    return {
        "dtype": m["dtype"],
        "sizes": [{"as_int": _sym_int(s, f"{what} size")} for s in sizes],
        "requires_grad": m["requires_grad"],
        "device": {"type": "cpu", "index": None},
        "strides": [{"as_int": _sym_int(s, f"{what} stride")} for s in strides],
        "storage_offset": {"as_int": _sym_int(m.get("storage_offset"), f"{what} storage offset")},
        "layout": STRIDED,
    }


def _check_op(target: str) -> None:
    import torch

    if target == GETITEM or target in WRAPPERS:
        return
    m = OP.fullmatch(target)
    if not m:
        raise fail(f"node target {target[:80]!r} is not an aten operator")
    name, overload = m.groups()
    if name in DENIED_OPS or name.startswith("_unsafe") or "empty" in name:
        raise fail(f"operator aten.{name} is not accepted (it reads uninitialized memory or files, "
                    "prints, or changes global or autograd state)")
    try:
        op = getattr(getattr(torch.ops.aten, name), overload)
    except (AttributeError, RuntimeError):
        raise fail(f"unknown operator {target[:80]!r}") from None
    if not isinstance(op, torch._ops.OpOverload):
        raise fail(f"{target[:80]!r} is not an operator overload")
    if not op._schema.returns and name not in ASSERT_OPS:
        raise fail(f"operator aten.{name} returns nothing (it exists for its effects)")


class _GraphReader:
    """Rebuilds a serialized graph (schema.Graph) out of checked fields only."""

    def __init__(self, depth: int = 0, count: list[int] | None = None) -> None:
        self.depth = depth
        self.count = count if count is not None else [0]  # nodes so far, subgraphs included

    def tensor_ref(self, d: Any, what: str) -> dict[str, str]:
        d = fields(d, {"name"}, what)
        return {"name": ident(d.get("name"), what)}

    def argument(self, a: Any, target: str) -> dict[str, Any]:
        kinds = PLAIN_ARGS | {"as_tensor", "as_tensors", "as_optional_tensor", "as_optional_tensors",
                              "as_string", "as_strings", "as_device"}
        if target in WRAPPERS:
            kinds = kinds | {"as_graph"}
        kind, v = _one_of(a, kinds, f"an argument of {target[:60]}")
        if kind in PLAIN_ARGS:
            return {kind: _plain(v, kind)}
        if kind == "as_tensor":
            return {kind: self.tensor_ref(v, "a tensor argument")}
        if kind == "as_tensors":
            if not isinstance(v, list):
                raise fail("malformed tensor list")
            return {kind: [self.tensor_ref(t, "a tensor argument") for t in v]}
        if kind == "as_optional_tensor":
            k, t = _one_of(v, {"as_tensor", "as_none"}, "an optional tensor")
            return {kind: {k: self.tensor_ref(t, "a tensor argument") if k == "as_tensor" else t}}
        if kind == "as_optional_tensors":
            if not isinstance(v, list):
                raise fail("malformed optional tensor list")
            out = []
            for item in v:
                k, t = _one_of(item, {"as_tensor", "as_none"}, "an optional tensor")
                out.append({k: self.tensor_ref(t, "a tensor argument") if k == "as_tensor" else t})
            return {kind: out}
        if kind in ("as_string", "as_strings"):
            items = v if kind == "as_strings" else [v]
            if not isinstance(items, list) or not all(isinstance(s, str) and len(s) <= 200
                                                      for s in items):
                raise fail(f"malformed {kind} argument")
            return {kind: v}
        if kind == "as_device":
            dev = fields(v, {"type", "index"}, "a device argument")
            if dev.get("type") != "cpu" or dev.get("index") not in (None, 0):
                raise fail("a device argument is not the cpu")
            return {kind: {"type": "cpu", "index": dev.get("index")}}
        # as_graph: the body of an autocast / grad-mode wrapper
        g = fields(v, {"name", "graph"}, "a subgraph")
        if self.depth >= 4:
            raise fail("subgraphs nested too deep")
        return {kind: {"name": ident(g.get("name"), "a subgraph name", SUBGRAPH),
                       "graph": _GraphReader(self.depth + 1, self.count).graph(g.get("graph"))}}

    def node(self, n: Any) -> dict[str, Any]:
        n = fields(n, {"target", "inputs", "outputs", "metadata", "is_hop_single_tensor_return",
                      "name"}, "a node")
        self.count[0] += 1
        if self.count[0] > MAX_NODES:
            raise fail(f"the program has more than {MAX_NODES} nodes")
        target = n.get("target")
        if not isinstance(target, str):
            raise fail("a node has no target")
        _check_op(target)
        inputs = []
        for inp in n.get("inputs") or []:
            inp = fields(inp, {"name", "arg", "kind"}, "a node input")
            name = inp.get("name", "")
            if name != "":
                ident(name, "an argument name")
            if inp.get("kind") not in (None, 0, 1, 2):
                raise fail("malformed argument kind")
            inputs.append({"name": name, "arg": self.argument(inp.get("arg"), target),
                           "kind": inp.get("kind")})
        outputs = [self.argument(o, target) for o in n.get("outputs") or []]
        hop = n.get("is_hop_single_tensor_return")
        if hop not in (None, True, False):
            raise fail("malformed node flag")
        return {"target": target, "inputs": inputs, "outputs": outputs, "metadata": {},
                "is_hop_single_tensor_return": hop, "name": ident(n.get("name"), "a node name")}

    def graph(self, g: Any) -> dict[str, Any]:
        g = fields(g, {"inputs", "outputs", "nodes", "tensor_values", "sym_int_values",
                      "sym_bool_values", "is_single_tensor_return", "custom_obj_values",
                      "sym_float_values"}, "a graph")
        for k in ("sym_int_values", "sym_bool_values", "sym_float_values", "custom_obj_values"):
            if g.get(k):
                raise fail(f"the graph has {k.replace('_values', '')} values (not accepted)")
        nodes, values = g.get("nodes"), g.get("tensor_values")
        if not isinstance(nodes, list) or not isinstance(values, dict) or len(nodes) > MAX_NODES:
            raise fail("malformed graph")
        return {
            "inputs": [self.argument(a, "graph input") for a in g.get("inputs") or []],
            "outputs": [self.argument(a, "graph output") for a in g.get("outputs") or []],
            "nodes": [self.node(n) for n in nodes],
            "tensor_values": {ident(k, "a tensor name"): tensor_meta(v, f"tensor {k[:40]!r}")
                              for k, v in values.items()},
            "sym_int_values": {}, "sym_bool_values": {}, "sym_float_values": {},
            "custom_obj_values": {},
            "is_single_tensor_return": bool(g.get("is_single_tensor_return")),
        }


def _signature(s: Any) -> tuple[dict[str, Any], str]:
    """Inputs: parameters, buffers, tensor constants and one user input; one user output."""
    s = fields(s, {"input_specs", "output_specs"}, "the signature")
    inputs, user = [], []
    for spec in s.get("input_specs") or []:
        kind, v = _one_of(spec, {"parameter", "buffer", "tensor_constant", "user_input"},
                          "an input (custom objects, tokens and constants are not accepted)")
        if kind == "user_input":
            arg = fields(v, {"arg"}, "the user input")["arg"]
            _, t = _one_of(arg, {"as_tensor"}, "the user input")
            user.append(ident(fields(t, {"name"}, "the user input").get("name"), "the input"))
            inputs.append({kind: {"arg": {"as_tensor": {"name": user[-1]}}}})
            continue
        field = {"parameter": "parameter_name", "buffer": "buffer_name",
                 "tensor_constant": "tensor_constant_name"}[kind]
        v = fields(v, {"arg", field, "persistent"}, f"a {kind} input")
        arg = {"name": ident(fields(v.get("arg"), {"name"}, "an input").get("name"), "an input")}
        out: dict[str, Any] = {"arg": arg, field: ident(v.get(field), f"a {kind} name", FQN)}
        if kind == "buffer":
            if not isinstance(v.get("persistent"), bool):
                raise fail("malformed buffer input")
            out["persistent"] = v["persistent"]
        inputs.append({kind: out})
    if len(user) != 1:
        raise fail(f"the program takes {len(user)} inputs, expected one (the tokens)")
    outs = s.get("output_specs") or []
    if len(outs) != 1:
        raise fail(f"the program has {len(outs)} outputs (mutated buffers or inputs, gradients "
                    "or losses count); expected one: the log-probabilities")
    _, v = _one_of(outs[0], {"user_output"}, "the output (state mutations are not accepted)")
    _, t = _one_of(fields(v, {"arg"}, "the output")["arg"], {"as_tensor"}, "the output")
    name = ident(fields(t, {"name"}, "the output").get("name"), "the output")
    return {"input_specs": inputs,
            "output_specs": [{"user_output": {"arg": {"as_tensor": {"name": name}}}}]}, user[0]


def _call_graph(mcg: Any, arg_name: str) -> list[dict[str, Any]]:
    """Only the root entry survives, with torch's own specs for `forward(tokens) -> tensor`."""
    import torch
    from torch.utils import _pytree as pytree

    x = torch.zeros(1)
    in_spec = pytree.treespec_dumps(pytree.tree_flatten(((x,), {}))[1])
    outs = {pytree.treespec_dumps(pytree.tree_flatten(o)[1]) for o in (x, (x,), [x])}
    roots = [e for e in mcg or [] if isinstance(e, dict) and e.get("fqn") == ""]
    if len(roots) != 1 or not isinstance(roots[0].get("signature"), dict):
        raise fail("the module call graph has no root entry")
    sig = roots[0]["signature"]
    if sig.get("in_spec") != in_spec:
        raise fail("forward must take exactly one positional argument (the tokens)")
    if sig.get("out_spec") not in outs:
        raise fail("forward must return one tensor (the log-probabilities)")
    return [{"fqn": "", "signature": {"inputs": [], "outputs": [], "in_spec": in_spec,
                                      "out_spec": sig["out_spec"], "forward_arg_names": [arg_name]}}]


def program(raw: bytes) -> dict[str, Any]:
    """The serialized ExportedProgram, rebuilt out of checked fields."""
    from torch._export.serde.schema import SCHEMA_VERSION

    try:
        p = json.loads(raw)
    except (ValueError, RecursionError):
        raise fail("models/model.json is not JSON") from None
    p = fields(p, {"graph_module", "opset_version", "range_constraints", "schema_version",
                  "verifiers", "torch_version", "guards_code"}, "the program")
    if p.get("range_constraints"):
        raise fail("symbolic shapes (range constraints) are not accepted; export with static shapes")
    if p.get("guards_code"):
        raise fail("guards code is not accepted; export with static shapes")
    version = fields(p.get("schema_version"), {"major", "minor"}, "the schema version")
    if version.get("major") != SCHEMA_VERSION[0]:
        raise fail(f"schema version {version} is not this torch's {SCHEMA_VERSION}")
    opset = p.get("opset_version")
    if not isinstance(opset, dict) or set(opset) != {"aten"}:
        raise fail("the program uses operator sets other than aten")
    verifiers = p.get("verifiers") or []
    if not isinstance(verifiers, list) or not set(verifiers) <= {"TRAINING", "ATEN"}:
        raise fail(f"unknown verifier dialects {str(verifiers)[:60]}")
    gm = fields(p.get("graph_module"), {"graph", "signature", "module_call_graph", "metadata",
                                       "treespec_namedtuple_fields"}, "the graph module")
    if gm.get("treespec_namedtuple_fields"):
        raise fail("named tuples are not accepted in the model's inputs or outputs")
    signature, arg_name = _signature(gm.get("signature"))
    return {
        "graph_module": {
            "graph": _GraphReader().graph(gm.get("graph")),
            "signature": signature,
            "module_call_graph": _call_graph(gm.get("module_call_graph"), arg_name),
            "metadata": {},
            "treespec_namedtuple_fields": {},
        },
        "opset_version": {"aten": _int(opset["aten"], "the aten opset version")},
        "range_constraints": {},
        "schema_version": {"major": _int(version["major"], "schema version"),
                           "minor": _int(version.get("minor"), "schema version")},
        "verifiers": list(verifiers),
        "torch_version": "",
        "guards_code": [],
    }
