"""The rd tasks' shared base model: one architecture and language everywhere, the shipped weights
are the build's (checksums), and the raw weight format reads back exactly and refuses what it
must (no pickle, bad headers, out-of-bounds tensors, NaN)."""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
from pathlib import Path

import pytest

from ._helpers import BASE_COPIES, POSTTRAIN, RDBASE, W2S, gpt, load_module

torch = pytest.importorskip("torch")

COPIES = {
    "gpt.py": [POSTTRAIN / "workspace", POSTTRAIN / "evaluator", W2S / "workspace", W2S / "evaluator"],
    "lang.py": [POSTTRAIN / "workspace", POSTTRAIN / "evaluator", W2S / "evaluator"],
}


@pytest.mark.parametrize("name", sorted(COPIES))
def test_every_copy_of_the_shared_modules_is_identical(name: str) -> None:
    """Each task carries its own copy (independent of lm-speedrun's language and of each other);
    the copies must not drift from _rdbase."""
    want = (RDBASE / name).read_bytes()
    for d in COPIES[name]:
        assert (d / name).read_bytes() == want, f"{d / name} differs from {RDBASE / name}"
    assert (POSTTRAIN / "workspace" / "questions.py").read_bytes() == \
        (POSTTRAIN / "evaluator" / "questions.py").read_bytes()


def test_shipped_weights_match_the_build_checksums() -> None:
    build = load_module(RDBASE / "build.py", "rd_build")
    for p in BASE_COPIES:
        assert hashlib.sha256(p.read_bytes()).hexdigest() == build.SHA256["base"], p
        assert p.stat().st_size < 5 * 1024 * 1024
    weak = W2S / "evaluator" / "weak_base.rbw"
    assert hashlib.sha256(weak.read_bytes()).hexdigest() == build.SHA256["weak"]


def test_base_model_loads_into_the_architecture_and_knows_the_language() -> None:
    g = gpt()
    tensors, meta = g.load_weights(BASE_COPIES[0])
    assert meta["parameters"] == sum(v.numel() for v in tensors.values()) == 824_144
    model = g.load_model(BASE_COPIES[0])
    lang = load_module(RDBASE / "lang.py", "rd_lang")
    import random

    rng = random.Random(5)
    seqs = [lang.sample_sequence(rng, 128) for _ in range(16)]
    x = torch.tensor([s[0] for s in seqs])
    floor = -sum(sum(s[1]) for s in seqs) / (16 * 128)
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten()).item()
    assert loss < floor + 0.03, (loss, floor)  # within 0.03 nats of the best possible
    assert abs(meta["val_loss"] - meta["entropy_floor"]) < 0.01


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_weight_file_round_trip(tmp_path: Path, dtype: str) -> None:
    g = gpt()
    t = {"a": torch.randn(3, 4), "b": torch.randn(7), "empty": torch.zeros(0, 2)}
    g.save_weights(tmp_path / "w.rbw", t, {"note": "x"}, dtype=dtype)
    back, meta = g.load_weights(tmp_path / "w.rbw")
    assert meta == {"note": "x"}
    for k, v in t.items():
        want = v.to(torch.bfloat16).float() if dtype == "bfloat16" else v
        assert torch.equal(back[k], want), k


def _header_file(tmp: Path, header: dict, data: bytes) -> Path:
    raw = json.dumps(header).encode()
    p = tmp / "bad.rbw"
    p.write_bytes(b"RBCNRAW1" + struct.pack("<Q", len(raw)) + raw + data)
    return p


def test_weight_file_refuses_pickles_and_broken_files(tmp_path: Path) -> None:
    """A torch.save pickle is refused before anything is unpickled: loading it would run code."""
    g = gpt()
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (Path.write_text, (marker, "code ran"))

    (tmp_path / "p.rbw").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(g.WeightFileError, match="magic"):
        g.load_weights(tmp_path / "p.rbw")
    assert not marker.exists()
    cases = [
        ({"tensors": {"a": {"dtype": "float32", "shape": [4], "offset": 0, "nbytes": 16}}}, b"\0" * 8,
         "outside the file"),
        ({"tensors": {"a": {"dtype": "float32", "shape": [4], "offset": 0, "nbytes": 12}}}, b"\0" * 16,
         "do not fit"),
        ({"tensors": {"a": {"dtype": "int8", "shape": [4], "offset": 0, "nbytes": 4}}}, b"\0" * 4,
         "needs dtype"),
        ({"tensors": {"a": {"dtype": "float32", "shape": [1], "offset": 0, "nbytes": 4}}},
         struct.pack("<f", float("nan")), "NaN"),
        ({"meta": {}}, b"", "bad header"),
    ]
    for header, data, msg in cases:
        with pytest.raises(g.WeightFileError, match=msg):
            g.load_weights(_header_file(tmp_path, header, data))
    p = tmp_path / "huge.rbw"
    p.write_bytes(b"RBCNRAW1" + struct.pack("<Q", 1 << 40))
    with pytest.raises(g.WeightFileError, match="out of bounds"):
        g.load_weights(p)


def test_check_shapes_names_what_differs() -> None:
    g = gpt()
    ref = {"a": torch.zeros(2, 3), "b": torch.zeros(4)}
    g.check_shapes({"a": torch.zeros(2, 3), "b": torch.zeros(4)}, ref)
    with pytest.raises(g.WeightFileError, match="missing \\['b'\\]"):
        g.check_shapes({"a": torch.zeros(2, 3)}, ref)
    with pytest.raises(g.WeightFileError, match="has shape \\(3, 2\\)"):
        g.check_shapes({"a": torch.zeros(3, 2), "b": torch.zeros(4)}, ref)
    two = {"a": torch.ones(2, 3), "b": torch.zeros(4)}
    moved = {"a": 2 * torch.ones(2, 3), "b": torch.zeros(4)}
    assert g.relative_distance(moved, two) == pytest.approx(0.5 ** 0.5)  # the unmoved 1-D b counts too


def test_fresh_and_reinitialized_models_are_far_from_the_base() -> None:
    """The distance rule's premise (evaluators allow 0.4 on the mean over every tensor): the
    base's own initialization is 0.76 away, another fresh model 1.02, the base with one block of
    four re-initialized 0.48."""
    g = gpt()
    base, _ = g.load_weights(BASE_COPIES[0])
    torch.manual_seed(0)  # the build's seed: the base's own initialization
    same_init = g.model_tensors(g.GPT())
    assert 0.7 < g.relative_distance(same_init, base) < 0.85
    torch.manual_seed(1)
    fresh = g.model_tensors(g.GPT())
    assert g.relative_distance(fresh, base) > 0.95
    one_block = {k: (fresh[k] if k.startswith("blocks.3.") else v) for k, v in base.items()}
    assert g.relative_distance(one_block, base) > 0.45
    assert g.relative_distance(base, base) == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("which", ["weak", "base"])
def test_a_full_build_reproduces_the_shipped_model(tmp_path: Path, which: str) -> None:
    """Not the shipped bytes (those depend on the machine): the shipped held-out loss, and a
    model within the evaluators' "still the base model" limits of the shipped one. The base
    takes ~7 min on an idle core."""
    build, g = load_module(RDBASE / "build.py", "rd_build"), gpt()
    build.build(which, tmp_path / "model.rbw", log=False)
    rebuilt, meta = g.load_weights(tmp_path / "model.rbw")
    shipped_path = W2S / "evaluator" / "weak_base.rbw" if which == "weak" else BASE_COPIES[0]
    shipped, shipped_meta = g.load_weights(shipped_path)
    assert shipped_meta["val_loss"] == build.VAL_LOSS[which]
    assert abs(meta["val_loss"] - build.VAL_LOSS[which]) <= build.VAL_LOSS_TOLERANCE
    assert g.distance_problem(rebuilt, shipped) is None


def test_a_quick_build_is_deterministic_and_reaches_its_recorded_loss(tmp_path: Path) -> None:
    """The fast twin of the slow rebuild: the recipe's first steps, through the same code
    (seeded data, deterministic kernels, one thread, bfloat16 export), give the same bytes twice
    and the recorded held-out loss."""
    build, g = load_module(RDBASE / "build.py", "rd_build"), gpt()
    shas = [build.build("base", tmp_path / f"quick{i}.rbw", steps=build.QUICK_STEPS, log=False,
                        val_sequences=build.QUICK_VAL) for i in range(2)]
    assert shas[0] == shas[1]
    val = g.load_weights(tmp_path / "quick0.rbw")[1]["val_loss"]
    assert abs(val - build.QUICK_VAL_LOSS["base"]) <= build.VAL_LOSS_TOLERANCE


def test_cached_generation_matches_the_full_forward() -> None:
    """GPT.generate (left-padded batch, key/value cache) decodes exactly what re-running the
    whole prefix through forward() one prompt at a time decodes."""
    import random

    g = gpt()
    model = g.load_model(BASE_COPIES[0])
    rng = random.Random(0)
    prompts = [[0] + [rng.randrange(74) for _ in range(rng.randint(3, 30))] for _ in range(6)]
    out = model.generate(prompts, 8)
    with torch.no_grad():
        for p, got in zip(prompts, out, strict=True):
            seq = torch.tensor([p])
            for _ in range(8):
                seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], dim=1)
            assert got.tolist() == seq[0, len(p):].tolist()
