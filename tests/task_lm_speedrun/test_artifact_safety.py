"""Artifacts that could execute code when loaded (issue 18, class 3 for lm-speedrun).

Each attack is first shown to work on what the evaluator used to do (torch.export.load or
torch.jit.load, in a throwaway process): the payload runs. Then the evaluator must refuse the
artifact (or score it with the payload never run). The allow-list itself is checked in-process
on archives edited one field at a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ._attacks import (
    B,
    Bigram,
    T,
    V,
    export,
    pickle_in_sample_inputs,
    pickle_in_weights,
    program_edit,
    rewrite,
    torch,
    torch_export_load_and_call,
)
from ._helpers import ev, evaluator_output, parse  # noqa: F401  (ev is a fixture)

nn = torch.nn


def test_pickled_weights_payload_never_runs(tmp_path: Path) -> None:
    """A weight stored as a pickle (use_pickle: true) with a payload that writes a marker and
    prints the metrics an attacker wants."""
    marker = tmp_path / "ran"
    art = export(Bigram(), tmp_path / "a")
    rewrite(art / "model.pt2", pickle_in_weights(marker))

    proc = torch_export_load_and_call(art)  # the attack is real: torch.export.load runs it
    assert marker.exists() and "val_loss: 0.990000" in proc.stdout
    marker.unlink()

    out = evaluator_output(art)
    assert not marker.exists(), "the payload ran in the evaluator"
    m = parse(out)
    assert "stored as a pickle" in str(m.get("invalid")), out
    assert "val_loss" not in m and "0.990000" not in out


def test_pickled_sample_inputs_are_never_read(tmp_path: Path) -> None:
    """torch.export.save always writes the example inputs as a pickle, and torch.export.load
    falls back to weights_only=False on it. The evaluator never reads that file: the model is
    scored as usual and the payload does not run."""
    marker = tmp_path / "ran"
    art = export(Bigram(), tmp_path / "a")
    rewrite(art / "model.pt2", pickle_in_sample_inputs(marker))

    torch_export_load_and_call(art)
    assert marker.exists()  # the attack is real
    marker.unlink()

    m = parse(evaluator_output(art))
    assert not marker.exists()
    assert "invalid" not in m and m["val_loss"] > 0, m


class LoadTimeCode(nn.Module):
    """TorchScript: __setstate__ is TorchScript code that torch.jit.load runs while loading."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(V, V))
        self.marker = marker

    def forward(self, idx):
        return torch.log_softmax(self.table[idx], dim=-1)

    @torch.jit.export
    def __getstate__(self) -> tuple[torch.Tensor, str, bool]:
        return (self.table, self.marker, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[torch.Tensor, str, bool]) -> None:
        print("val_loss: 0.990000")  # fake metrics, printed by the archive's own code
        self.table = state[0]
        self.marker = state[1]
        self.training = state[2]


def test_torchscript_load_time_code_never_runs(tmp_path: Path) -> None:
    art = tmp_path / "a"
    art.mkdir()
    torch.jit.script(LoadTimeCode("x")).save(str(art / "model.pt2"))
    code = "import sys, torch; torch.jit.load(sys.argv[1])"
    proc = subprocess.run([sys.executable, "-c", code, str(art / "model.pt2")],
                          capture_output=True, text=True, timeout=300)
    assert "val_loss: 0.990000" in proc.stdout  # the attack is real: jit.load ran the code

    out = evaluator_output(art)
    assert "0.990000" not in out
    assert "TorchScript archive: not accepted" in str(parse(out).get("invalid")), out


def _node(target: str, name: str = "pwn", args: list | None = None) -> dict:
    return {"target": target, "inputs": args or [], "outputs": [{"as_tensor": {"name": name}}],
            "metadata": {}, "is_hop_single_tensor_return": None, "name": name}


def _first_node(p: dict) -> dict:
    return p["graph_module"]["graph"]["nodes"][0]


def _add_file(name: str, data: bytes = b"x") -> Callable[[dict[str, bytes]], None]:
    def edit(files: dict[str, bytes]) -> None:
        top = next(iter(files)).split("/")[0]
        files[f"{top}/{name}"] = data
    return edit


def _config_edit(change: Callable[[dict], None]) -> Callable[[dict[str, bytes]], None]:
    def edit(files: dict[str, bytes]) -> None:
        name = next(n for n in files if n.endswith("model_weights_config.json"))
        cfg = json.loads(files[name])
        change(next(iter(cfg["config"].values())))
        files[name] = json.dumps(cfg).encode()
    return edit


def _set(path: list, value: object) -> Callable[[dict], None]:
    def change(p: dict) -> None:
        d = p
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return change


def _symbolic_input(p: dict) -> None:
    """The input's batch size becomes an expression (torch parses it with sympy.sympify: eval)."""
    meta = p["graph_module"]["graph"]["tensor_values"]["idx"]
    meta["sizes"][0] = {"as_expr": {"expr_str": "__import__('os').getpid()", "hint": None}}



EDITS: dict[str, tuple[Callable[[dict[str, bytes]], None], str]] = {
    # code that torch would run while loading
    "guards-code": (program_edit(_set(["guards_code"], ["__import__('os').getpid() > 0"])),
                    "guards code is not accepted"),
    "symbolic-size": (program_edit(_symbolic_input), "symbolic shapes are not accepted"),
    "range-constraints": (program_edit(_set(["range_constraints"], {"s0": {"min_val": 2}})),
                          "symbolic shapes"),
    "python-target": (program_edit(lambda p: _first_node(p).__setitem__("target", "torch.os.system")),
                      "is not an aten operator"),
    "name-injection": (program_edit(lambda p: _first_node(p).__setitem__(
        "name", "x = __import__('os').getpid()\n    y")), "is not a plain name"),
    "custom-op": (program_edit(lambda p: _first_node(p).__setitem__("target", "torch.ops.evil.op.default")),
                  "is not an aten operator"),
    # aten operators with effects outside the model's tensors
    "from-file": (program_edit(lambda p: p["graph_module"]["graph"]["nodes"].insert(
        0, _node("torch.ops.aten.from_file.default", args=[
            {"name": "filename", "arg": {"as_string": "/proc/self/environ"}, "kind": 1}]))),
        "aten.from_file is not accepted"),
    "uninitialized-memory": (program_edit(lambda p: p["graph_module"]["graph"]["nodes"].insert(
        0, _node("torch.ops.aten.empty.memory_format", args=[
            {"name": "size", "arg": {"as_ints": [B, T, V]}, "kind": 1}]))),
        "aten.empty is not accepted"),
    "print": (program_edit(lambda p: p["graph_module"]["graph"]["nodes"].insert(
        0, _node("torch.ops.aten._print.default"))), "aten._print is not accepted"),
    # state: outputs that write back into buffers or inputs
    "buffer-mutation": (program_edit(lambda p: p["graph_module"]["signature"]["output_specs"].append(
        {"buffer_mutation": {"arg": {"name": "idx"}, "buffer_name": "table.weight"}})), "outputs"),
    # files and payloads outside the allow-list
    "aoti-library": (_add_file("data/aotinductor/model/model.so"), "unexpected file"),
    "extra-file": (_add_file("extra/notes.txt"), "unexpected file"),
    "custom-object": (_config_edit(_set(["path_name"], "custom_obj_0")), "not a raw tensor file"),
    "pickled-weight": (_config_edit(_set(["use_pickle"], True)), "stored as a pickle"),
    "complex-dtype": (_config_edit(lambda e: e["tensor_meta"].__setitem__("dtype", 10)), "dtype code"),
}


@pytest.fixture(scope="module")
def bigram_archive(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return (export(Bigram(), tmp_path_factory.mktemp("bigram")) / "model.pt2").read_bytes()


def test_the_unedited_archive_is_accepted(ev, bigram_archive: bytes, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "model.pt2").write_bytes(bigram_archive)
    archive = ev.read(tmp_path / "model.pt2")
    out, _, _ = ev.run_model(archive.fresh()[0], torch.zeros(B, T, dtype=torch.long))
    assert out.shape == (B, T, V)


@pytest.mark.parametrize("name", list(EDITS))
def test_the_allow_list_refuses(ev, bigram_archive: bytes, tmp_path: Path, name: str) -> None:  # noqa: F811
    edit, reason = EDITS[name]
    path = tmp_path / "model.pt2"
    path.write_bytes(bigram_archive)
    rewrite(path, edit)
    with pytest.raises(ev.Invalid, match=reason):
        ev.read(path).fresh()


def test_duplicate_zip_entries_are_refused(ev, bigram_archive: bytes, tmp_path: Path) -> None:  # noqa: F811
    """Two entries with one name: zip readers disagree on which one counts."""
    path = tmp_path / "model.pt2"
    path.write_bytes(bigram_archive)
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("models/model.json"))
    with pytest.warns(UserWarning), zipfile.ZipFile(path, "a") as z:
        z.writestr(name, b"{}")
    with pytest.raises(ev.Invalid, match="same name"):
        ev.read(path)
