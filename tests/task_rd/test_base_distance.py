"""The rd tasks' "still the base model" rule (gpt.distance_problem, used by both evaluators): every
tensor counts, and no single tensor may move far, in both directions -- the red team's
replacements are refused and legitimate fine-tunes pass (issue 22; calibration in
docs/BENCHMARKS.md "rd base model", `bench/rd_distance.py`)."""

from __future__ import annotations

import json
import math
import random
import sys
from typing import Any

import pytest

from ._helpers import BASE_COPIES, POSTTRAIN, gpt, load_module

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def g() -> Any:
    return gpt()


@pytest.fixture(scope="module")
def base(g: Any) -> dict[str, Any]:
    return g.load_weights(BASE_COPIES[0])[0]


def _fresh(g: Any, seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    return g.model_tensors(g.GPT())


def test_every_tensor_counts_with_a_floor_for_tiny_ones(g: Any) -> None:
    base = {"w": torch.ones(2, 8), "b": torch.zeros(16), "gain": torch.ones(4)}
    assert g.relative_distance(base, base) == 0.0
    moved = {**base, "b": torch.full((16,), 0.05)}  # a zero bias moved: measured against the floor
    d = g.tensor_distances(moved, base)
    assert d["w"] == 0.0 and d["gain"] == 0.0
    assert d["b"] == pytest.approx(0.05 / g.SCALE_FLOOR)
    assert g.relative_distance(moved, base) == pytest.approx(math.sqrt(d["b"] ** 2 / 3))
    gains = {**base, "gain": torch.full((4,), 1.5)}  # a 1-D tensor counts like a matrix
    assert g.tensor_distances(gains, base)["gain"] == pytest.approx(0.5)


def test_one_tensor_past_its_cap_is_refused_even_when_the_mean_is_small(g: Any) -> None:
    base = {f"w{i}": torch.ones(4, 4) for i in range(40)}
    one = {**base, "w0": torch.ones(4, 4) * (1 + 2 * g.MAX_TENSOR_DISTANCE)}
    assert g.relative_distance(one, base) < g.MAX_DISTANCE
    problem = g.distance_problem(one, base)
    assert problem is not None and "'w0'" in problem and "any one tensor" in problem
    assert g.distance_problem(base, base) is None


def test_the_red_team_model_is_refused(g: Any, base: dict[str, Any]) -> None:
    """The known gap: every 1-D tensor (LayerNorms, biases) replaced and the token embedding
    re-initialized measured 0.32 under the old rule (2-D tensors only, mean only: allowed 0.4).
    Defence: every tensor counts, and each is capped."""
    fresh = _fresh(g, 1)
    red = {k: (fresh[k] if v.dim() == 1 or k == "tok_emb.weight" else v) for k, v in base.items()}
    assert g.distance_problem(red, base) is not None
    assert g.relative_distance(red, base) > g.MAX_DISTANCE  # the 1-D tensors alone move the mean
    only_emb = {**base, "tok_emb.weight": fresh["tok_emb.weight"]}
    problem = g.distance_problem(only_emb, base)
    assert problem is not None and "tok_emb.weight" in problem
    for name in ("blocks.3.fc.weight", "head.weight", "blocks.0.qkv.weight"):
        assert g.distance_problem({**base, name: fresh[name]}, base) is not None, name


def test_models_not_from_the_base_are_far(g: Any, base: dict[str, Any]) -> None:
    """The rule's premise: the base's own initialization and a fresh model are far outside it."""
    own_init, fresh = _fresh(g, 0), _fresh(g, 1)
    assert g.relative_distance(own_init, base) > 1.5 * g.MAX_DISTANCE  # 0.76
    assert g.relative_distance(fresh, base) > 2 * g.MAX_DISTANCE
    one_block = {k: (fresh[k] if k.startswith("blocks.3.") else v) for k, v in base.items()}
    assert g.distance_problem(one_block, base) is not None


def _finetune(g: Any, base: dict[str, Any], steps: int, weight_decay: float) -> dict[str, Any]:
    """The posttrain reference's supervised fine-tuning (its data, loss and learning rate), with
    every tensor trainable: the most a legitimate recipe moves per step."""
    sys.path.insert(0, str(POSTTRAIN / "workspace"))  # its gpt, lang, questions
    try:
        ref = load_module(POSTTRAIN / "reference" / "posttrain.py", "pt_reference_for_distance")
    finally:
        sys.path.remove(str(POSTTRAIN / "workspace"))
    cfg = json.loads((POSTTRAIN / "reference" / "config.json").read_text())
    template = json.loads((POSTTRAIN / "reference" / "decode.json").read_text())["template"]
    torch.manual_seed(1)
    rng = random.Random(1)
    model = g.GPT()
    model.load_state_dict(base)
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=cfg["lr"], betas=(0.9, 0.98), weight_decay=weight_decay)
    model.train()
    for _ in range(steps):
        x, ans_mask, lm_mask = ref.batch(rng, 4, cfg["max_train_program"], template)
        nll = torch.nn.functional.cross_entropy(model(x[:, :-1]).transpose(1, 2), x[:, 1:], reduction="none")
        loss = (nll * ans_mask).sum() / ans_mask.sum() + 0.1 * (nll * lm_mask).sum() / lm_mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return g.model_tensors(model)


def test_a_legitimate_fine_tune_of_every_tensor_passes(g: Any, base: dict[str, Any]) -> None:
    """The other direction: a short full fine-tune at the reference's learning rate (every tensor
    trainable, weight decay 0.1) is allowed; bench/rd_distance.py measures the long ones."""
    torch.set_num_threads(2)
    tuned = _finetune(g, base, steps=25, weight_decay=0.1)
    assert g.relative_distance(tuned, base) > 0.0
    assert g.distance_problem(tuned, base) is None, g.distance_problem(tuned, base)


@pytest.mark.slow
def test_a_long_legitimate_fine_tune_passes(g: Any, base: dict[str, Any]) -> None:
    """As above, for as many steps as the posttrain reference takes on an idle machine."""
    torch.set_num_threads(2)
    tuned = _finetune(g, base, steps=300, weight_decay=0.0)
    assert g.distance_problem(tuned, base) is None, g.distance_problem(tuned, base)
