"""SigmaAnnotator: shapes per preset, the difference terms, what trains, intent rules, the prior's
caches and annotate()."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sigma.model.annotation import to_annotation
from sigma.model.blocks import resample
from sigma.model.build import PRESETS, build_sigma
from sigma.model.decoder import FPNMaskDecoder
from sigma.model.difference import difference_terms
from sigma.model.grounding.base import Grounder
from sigma.model.intent import intent_map
from sigma.model.parsing.base import ACTIONS, Edit, ParsedInstruction
from sigma.model.prior import IntentPrior
from tests.model.conftest import without_langsam

# Input pixels per token of each registered backbone (ViT patch size / MobileNet's stride-16 grid).
STRIDE = {"dinov2_vitb14": 14, "dinov2_vits14": 14, "mobilenet_v2_imagenet": 16}
# Token count N and width C the docs give for the presets (paper: 518/14 = 37 -> 37*37).
DOCUMENTED = {"sigma_paper": (37 * 37, 256), "sigma_offline": (16 * 16, 128)}
N_LEVELS = 3  # every backbone taps three levels (sigma-method.md: layers {2, 5, 11})


def _preset_params():
    for name in sorted(PRESETS):
        big = PRESETS[name].backbone.input_size > 300  # a ViT-B at 518² takes seconds on 2 cores
        yield pytest.param(name, marks=pytest.mark.slow) if big else name


# --- 1. shapes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", list(_preset_params()))
def test_preset_forward_features_shapes(preset):
    config = without_langsam(PRESETS[preset])
    model = build_sigma(config, pretrained=False, load_grounder=False).eval()
    size = config.backbone.input_size
    side = size // STRIDE[config.backbone.name]
    n, c = side * side, config.dim
    if preset in DOCUMENTED:
        assert (n, c) == DOCUMENTED[preset]
    b = 1 if size > 300 else 2
    assert model.grid() == (side, side)

    torch.manual_seed(0)
    x = torch.rand(b, 3, size, size)
    with torch.no_grad():
        out = model.forward_features(x, x.flip(-1), torch.rand(b, 1, side, side))

    assert out["levels"].shape == (b, N_LEVELS, n, c)
    for key in ("e_v", "e_i", "z"):
        assert out[key].shape == (b, n, c), key
    assert out["logits"].shape == (b, 2, size, size)
    for key, value in out.items():
        assert torch.isfinite(value).all(), key
    if preset == "sigma_paper":  # sigma-method.md: ViT-B/14 patch tokens of blocks {2, 5, 11}, 768 wide
        assert model.backbone.layers == (2, 5, 11)
        assert model.backbone.channels == (768,) * N_LEVELS


def test_paper_preset_is_the_method():
    paper = PRESETS["sigma_paper"]
    assert (paper.backbone.name, paper.backbone.input_size, paper.dim) == ("dinov2_vitb14", 518, 256)
    assert (paper.grounder.name, paper.drb_blocks, paper.bcmr_rounds) == ("langsam", 2, 2)
    assert paper.eps == 0.001


@pytest.mark.parametrize("hw", [(192, 320), (200, 300)])
def test_non_square_input(offline_model, hw):
    h, w = hw
    stride = STRIDE[offline_model.config.backbone.name]
    grid = (h // stride, w // stride)
    c = offline_model.config.dim
    x = torch.rand(2, 3, h, w)
    with torch.no_grad():
        # the intent map comes at its own resolution and is resampled to the token grid
        out = offline_model.forward_features(x, x.flip(-1), torch.rand(2, 1, 7, 9))
    n = grid[0] * grid[1]
    assert out["levels"].shape == (2, N_LEVELS, n, c)
    for key in ("e_v", "e_i", "z"):
        assert out[key].shape == (2, n, c), key
    assert out["logits"].shape == (2, 2, h, w)


# --- 2. difference terms ------------------------------------------------------------------------


def test_identical_images_have_zero_abs_difference(offline_model):
    torch.manual_seed(1)
    x = torch.rand(2, 3, 256, 256)
    f_o, f_e = offline_model.backbone_features(x, x.clone())
    assert len(f_o) == len(f_e) == N_LEVELS
    for level, (a, b) in enumerate(zip(f_o, f_e, strict=True)):
        terms = difference_terms(a, b)
        c = a.shape[1]
        assert terms.shape == (a.shape[0], 4 * c, *a.shape[-2:])
        assert torch.equal(terms[:, :c], torch.zeros_like(terms[:, :c])), f"level {level}"


def test_different_images_have_localised_nonzero_difference(offline_model):
    torch.manual_seed(2)
    x = torch.rand(1, 3, 256, 256)
    edited = x.clone()
    edited[..., 64:128, 64:128] = 1 - edited[..., 64:128, 64:128]
    f_o, f_e = offline_model.backbone_features(x, edited)
    stride = offline_model.backbone.stride
    for level, (a, b) in enumerate(zip(f_o, f_e, strict=True)):
        diff = difference_terms(a, b)[:, : a.shape[1]].sum(1)[0]  # (h, w)
        assert diff.abs().sum() > 0, f"level {level}"
    # at the shallowest level the change concentrates on the edited cells
    diff = difference_terms(f_o[0], f_e[0])[:, : f_o[0].shape[1]].sum(1)[0]
    inside = diff[64 // stride : 128 // stride, 64 // stride : 128 // stride].mean()
    far = diff[192 // stride :, 192 // stride :].mean()
    assert inside > far


# --- 3. what trains -----------------------------------------------------------------------------


def test_gradients_reach_only_trainable_parts():
    model = build_sigma(PRESETS["sigma_offline"], load_grounder=False)
    model.train()
    assert model.training and model.difference.training and model.decoder.training
    frozen_modules = [model.backbone, model.grounder.text_encoder]
    for part in frozen_modules:
        assert not any(m.training for m in part.modules()), type(part).__name__

    bn = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bn, "the offline backbone has BatchNorm (the eval-mode check below needs it)"
    stats = {k: v.clone() for k, v in model.backbone.state_dict().items() if "running" in k or "num_batches" in k}

    torch.manual_seed(3)
    x = torch.rand(2, 3, 128, 128)
    logits = model(x, x.flip(-1), torch.rand(2, 1, *model.backbone.grid((128, 128))))
    target = (torch.rand_like(logits) > 0.5).float()
    F.binary_cross_entropy_with_logits(logits, target).backward()

    frozen = {
        "backbone": model.backbone,
        "grounder.text_encoder": model.grounder.text_encoder,
        "grounder.head": model.grounder.head,
    }
    for prefix, part in frozen.items():
        for name, p in part.named_parameters():
            assert not p.requires_grad, f"{prefix}.{name} trainable"
            assert p.grad is None, f"{prefix}.{name} got a gradient"

    # a training-mode forward left the frozen BatchNorm statistics alone
    after = model.backbone.state_dict()
    for k, v in stats.items():
        assert torch.equal(after[k], v), k
    assert not any(m.training for m in model.backbone.modules())

    trainable = {
        "difference": model.difference,
        "intent_encoder": model.intent_encoder,
        "refinement": model.refinement,
        "decoder": model.decoder,
    }
    no_grad, zero_grad = [], []
    for prefix, part in trainable.items():
        params = list(part.named_parameters())
        assert params, prefix
        for name, p in params:
            assert p.requires_grad, f"{prefix}.{name} frozen"
            if p.grad is None:
                no_grad.append(f"{prefix}.{name}")
            elif not p.grad.abs().sum() > 0:
                zero_grad.append(f"{prefix}.{name}")
    assert not no_grad, f"trainable parameters that never get a gradient (dead weights): {no_grad}"
    assert not zero_grad, f"trainable parameters with an all-zero gradient: {zero_grad}"


# --- 4. intent map and prior --------------------------------------------------------------------

GRID = (4, 5)
EPS = 0.001


@pytest.fixture
def grounded():
    torch.manual_seed(4)
    return torch.rand(GRID), torch.rand(GRID)


@pytest.mark.parametrize("action", [*ACTIONS, None])
def test_intent_map_rules(action, grounded):
    a_o, a_e = grounded
    uniform = torch.full(GRID, EPS)
    expected = {
        "add": a_e,
        "remove": a_o,
        "replace": a_o * a_e,
        "attribute_change": a_o * a_e,
        "move": torch.maximum(a_o, a_e),  # where it was and where it is now
        "global": torch.ones(GRID),
        None: uniform,
    }
    out = intent_map(action, a_o, a_e, EPS, GRID)
    assert out.shape == GRID
    torch.testing.assert_close(out, expected[action], rtol=0, atol=0)


@pytest.mark.parametrize("action", [*ACTIONS, None])
def test_intent_map_missing_concept_is_eps_or_the_other_concept(action, grounded):
    a_o, a_e = grounded
    uniform, whole = torch.full(GRID, EPS), torch.ones(GRID)
    expected_no_o = {
        "add": a_e,
        "remove": uniform,
        "replace": a_e,
        "attribute_change": a_e,
        "move": torch.maximum(uniform, a_e),
        "global": whole,
        None: uniform,
    }
    expected_no_e = {
        "add": uniform,
        "remove": a_o,
        "replace": a_o,
        "attribute_change": a_o,
        "move": torch.maximum(a_o, uniform),
        "global": whole,
        None: uniform,
    }
    torch.testing.assert_close(intent_map(action, None, a_e, EPS, GRID), expected_no_o[action], rtol=0, atol=0)
    torch.testing.assert_close(intent_map(action, a_o, None, EPS, GRID), expected_no_e[action], rtol=0, atol=0)
    neither = {"replace": uniform * uniform, "attribute_change": uniform * uniform, "global": whole}
    torch.testing.assert_close(intent_map(action, None, None, EPS, GRID), neither.get(action, uniform), rtol=0, atol=0)


class FakeParser:
    def __init__(self, table: dict[str, ParsedInstruction]):
        self.table, self.calls = table, Counter()

    def parse(self, text: str) -> ParsedInstruction:
        self.calls[text] += 1
        return self.table[text]


class FakeGrounder(Grounder):
    """Returns a constant map per concept (at its own resolution), ``None`` for unknown concepts."""

    def __init__(self, values: dict[str, float]):
        super().__init__()
        self.values, self.calls = values, []

    def ground(self, images, concepts, levels=None):
        assert len(images) == len(concepts)
        self.calls += [(img.clone(), c) for img, c in zip(images, concepts, strict=True)]
        return [torch.full((16, 16), self.values[c]) if c in self.values else None for c in concepts]


P = {
    "remove the cat": ParsedInstruction(original="a cat", action="remove"),
    "add a dog": ParsedInstruction(edited="a dog", action="add"),
    "turn the cat into a dog": ParsedInstruction(original="a cat", edited="a dog", action="replace"),
    "make the cat a dog": ParsedInstruction(original="a cat", edited="a dog", action="attribute_change"),
    "make it dramatic": ParsedInstruction(original="a cat", edited="a dog", action="global"),
    "gibberish": ParsedInstruction(),
    "remove the unicorn": ParsedInstruction(original="a unicorn", action="remove"),
    "add a dog and remove the cat": ParsedInstruction.of(
        [Edit(edited="a dog", action="add"), Edit(original="a cat", action="remove")], 0.9
    ),
    "remove it": ParsedInstruction.of([Edit(action="remove")], 0.3),
    "prbly remove the cat": ParsedInstruction.of([Edit(original="a cat", action="remove")], 0.2),
}
VALUES = {"a cat": 0.6, "a dog": 0.3}  # "a unicorn" is never found


def _prior(cache_size: int = 64):
    parser, grounder = FakeParser(P), FakeGrounder(VALUES)
    return IntentPrior(parser, grounder, eps=EPS, cache_size=cache_size), parser, grounder


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 3, 12, 12, generator=torch.Generator().manual_seed(seed))


def test_prior_parses_each_instruction_text_once():
    prior, parser, _ = _prior()
    o, e = _images(4, 0), _images(4, 1)
    texts = ["remove the cat", "remove the cat", "  remove the cat ", ""]
    intent, parsed = prior(o, e, texts, GRID)
    prior(o, e, texts, GRID)
    assert parser.calls == Counter({"remove the cat": 1})
    assert prior.stats["parse_calls"] == 1
    assert intent.shape == (4, 1, *GRID)
    assert parsed[:3] == [P["remove the cat"]] * 3
    assert parsed[3] == ParsedInstruction()  # empty: no parse, uniform prior
    torch.testing.assert_close(intent[3, 0], torch.full(GRID, EPS), rtol=0, atol=0)


def test_prior_grounds_each_image_concept_once():
    prior, _, grounder = _prior()
    o, e = _images(1, 0).repeat(2, 1, 1, 1), _images(2, 1)  # the same original twice
    intent, _ = prior(o, e, ["remove the cat", "remove the cat"], GRID)
    assert len(grounder.calls) == 1
    torch.testing.assert_close(intent[:, 0], torch.full((2, *GRID), VALUES["a cat"]))
    prior(o, e, ["remove the cat", "remove the cat"], GRID)  # all cached
    assert len(grounder.calls) == 1
    prior(_images(1, 5), e[:1], ["remove the cat"], GRID)  # same concept, another image
    assert len(grounder.calls) == 2
    prior(o[:1], e[:1], ["turn the cat into a dog"], GRID)  # cat in o cached; dog in e[0] new
    assert [c for _, c in grounder.calls] == ["a cat", "a cat", "a dog"]
    assert prior.stats["ground_calls"] == 3


def test_prior_of_a_multi_edit_instruction_is_the_union_of_its_edits():
    prior, _, grounder = _prior()
    o, e = _images(1, 0), _images(1, 1)
    intent, parsed = prior(o, e, ["add a dog and remove the cat"], GRID)
    assert [(c, torch.equal(img, want)) for (img, c), want in zip(grounder.calls, (e[0], o[0]), strict=True)] == [
        ("a dog", True),
        ("a cat", True),
    ]
    torch.testing.assert_close(intent[0, 0], torch.full(GRID, max(VALUES.values())))
    assert parsed[0].action == "add" and prior.source(parsed[0]) == "instruction"


def test_prior_is_uniform_below_min_confidence_and_says_why():
    parser, grounder = FakeParser(P), FakeGrounder(VALUES)
    prior = IntentPrior(parser, grounder, eps=EPS, min_confidence=0.5)
    o, e = _images(3, 0), _images(3, 1)
    intent, parsed = prior(o, e, ["prbly remove the cat", "remove it", "remove the cat"], GRID)
    assert [c for _, c in grounder.calls] == ["a cat"]  # only the sure parse is grounded
    torch.testing.assert_close(intent[:2, 0], torch.full((2, *GRID), EPS), rtol=0, atol=0)
    torch.testing.assert_close(intent[2, 0], torch.full(GRID, VALUES["a cat"]))
    assert prior.source(parsed[0]) == "uniform: parse confidence 0.20 < parse.min_confidence 0.5"
    assert prior.source(parsed[2]) == "instruction"
    assert prior.source(ParsedInstruction()) == "uniform: no edit found in the instruction"


@pytest.mark.parametrize("text", [t for t in P if len(P[t].edits) <= 1])
def test_prior_grounds_only_the_concepts_the_action_uses(text):
    prior, _, grounder = _prior()
    o, e = _images(1, 0), _images(1, 1)
    intent, _ = prior(o, e, [text], GRID)
    p = P[text]
    expected_calls = []
    if p.action in ("remove", "replace", "attribute_change") and p.original:
        expected_calls.append((o[0], p.original))
    if p.action in ("add", "replace", "attribute_change") and p.edited:
        expected_calls.append((e[0], p.edited))
    assert [c for _, c in grounder.calls] == [c for _, c in expected_calls]
    for (img, _), (want, _) in zip(grounder.calls, expected_calls, strict=True):
        assert torch.equal(img, want), "a concept was grounded in the wrong image"

    found = lambda c: torch.full(GRID, VALUES[c]) if c in VALUES else None  # noqa: E731
    expected = intent_map(p.action, found(p.original), found(p.edited), EPS, GRID)
    torch.testing.assert_close(intent[0, 0], expected)


def test_prior_cache_smaller_than_batch_keeps_every_grounded_map():
    """cache_size is a memory bound, not a correctness knob (params allow down to 0): a batch with
    more distinct (image, concept) requests than the cache holds must still use every grounded map."""
    prior, _, grounder = _prior(cache_size=1)
    o, e = _images(3, 0), _images(3, 1)
    intent, _ = prior(o, e, ["remove the cat"] * 3, GRID)
    assert len(grounder.calls) == 3
    torch.testing.assert_close(intent[:, 0], torch.full((3, *GRID), VALUES["a cat"]))


def test_prior_cache_hit_survives_new_entries_of_the_same_batch():
    """A full cache (any long corpus run): a batch whose distinct requests fit the cache, one of
    them a hit on the least recently used entry, must still get that entry's grounded map."""
    prior, _, grounder = _prior(cache_size=2)
    a, x, b = _images(1, 10), _images(1, 11), _images(1, 12)
    e = _images(2, 1)
    prior(a, e[:1], ["remove the cat"], GRID)  # cache: (a, cat)
    prior(x, e[:1], ["remove the cat"], GRID)  # cache: (a, cat), (x, cat) -- full
    intent, _ = prior(torch.cat([a, b]), e, ["remove the cat"] * 2, GRID)  # a: hit, b: new
    assert len(grounder.calls) == 3  # a was not grounded again
    torch.testing.assert_close(intent[:, 0], torch.full((2, *GRID), VALUES["a cat"]))


# --- 5. annotate --------------------------------------------------------------------------------


def _pair(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    original = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    edited = original.copy()
    edited[h // 4 : h // 2, w // 4 : w // 2] = 255 - edited[h // 4 : h // 2, w // 4 : w // 2]
    return original, edited


def test_annotate_one_annotation_per_pair_at_its_resolution(offline_model):
    sizes = [(48, 64), (70, 40), (33, 57)]
    texts = ["remove the cat", "", "add a hat on the person"]
    pairs = [(*_pair(h, w, i), t) for i, ((h, w), t) in enumerate(zip(sizes, texts, strict=True))]
    results = offline_model.annotate(iter(pairs), batch_size=2)  # a generator, two chunks
    assert len(results) == len(pairs)
    for (h, w), text, ann in zip(sizes, texts, results, strict=True):
        for arr in (ann.mask, ann.intended, ann.side_effect):
            assert arr.shape == (h, w) and arr.dtype == bool
        assert np.array_equal(ann.mask, ann.intended | ann.side_effect)
        assert not (ann.intended & ann.side_effect).any()
        assert isinstance(ann.score, float) and 0.0 <= ann.score <= 1.0
        assert 0.0 <= ann.area <= 1.0
        assert ann.parsed == offline_model.prior.parse(text)

    # batching does not change a pair's result; annotate runs in eval mode and restores the mode
    offline_model.train()
    try:
        alone = [offline_model.annotate([pair])[0] for pair in pairs]
        assert offline_model.training
    finally:
        offline_model.eval()
    for a, b in zip(alone, results, strict=True):
        assert a.score == pytest.approx(b.score, abs=1e-4)
    assert not offline_model.training


def test_to_annotation_splits_whole_regions_by_their_share_of_the_instruction_prior():
    h, w = 10, 12
    logits = torch.full((2, h, w), -20.0)
    logits[0, 1:7, 1:5] = logits[0, 1:7, 7:11] = 20.0  # edit: two regions, left and right
    intent = torch.full((h, w), 0.001)
    intent[1:7, 1:5] = 0.6  # the prior covers the left region ...
    intent[1, 1] = 0.001  # ... but for one pixel, which must not become a speckle of side effect
    intent[1:7, 7:11] = 0.03  # the right region: 5% of the left's, a side effect
    parsed = ParsedInstruction(original="a cat", action="remove")
    ann = to_annotation(logits, intent, 0.5, parsed, intended_threshold=0.1)
    left, right = np.zeros((h, w), bool), np.zeros((h, w), bool)
    left[1:7, 1:5], right[1:7, 7:11] = True, True
    assert np.array_equal(ann.mask, left | right)
    assert np.array_equal(ann.intended, left)
    assert np.array_equal(ann.side_effect, right)
    assert ann.score == pytest.approx(1.0, abs=1e-6) and ann.split_unknown is None
    assert ann.parsed == parsed
    # Relative, not absolute: the same maps at a tenth of the scale split the same way.
    assert np.array_equal(to_annotation(logits, intent / 10, 0.5, parsed, 0.1).side_effect, right)
    # The threshold moves the decision: at 0.02 the right region's 5% is intended.
    strict = to_annotation(logits, intent, 0.5, parsed, intended_threshold=0.02)
    assert np.array_equal(strict.intended, left | right) and not strict.side_effect.any()

    # A speck is no side effect of its own: below the smallest region it stays in the mask, intended.
    specked = logits.clone()
    specked[0, 9, 0] = 20.0  # one pixel, 1/120 of the picture, where the prior is 0.001
    speck = np.zeros((h, w), bool)
    speck[9, 0] = True
    assert np.array_equal(to_annotation(specked, intent, 0.5, parsed, 0.1).side_effect, right | speck)
    kept = to_annotation(specked, intent, 0.5, parsed, 0.1, min_side_share=0.02)
    assert np.array_equal(kept.side_effect, right) and np.array_equal(kept.intended, left | speck)

    unknown = to_annotation(logits, intent, 0.5, parsed, 0.1, split_unknown="a global edit")
    assert not unknown.side_effect.any() and unknown.split_unknown == "a global edit"

    undecided = to_annotation(torch.zeros(2, h, w), intent, 0.5, parsed)
    assert undecided.score == 0.0 and not undecided.mask.any()
    assert not undecided.intended.any() and not undecided.side_effect.any()


def test_annotate_size_mismatch_raises(offline_model):
    original, _ = _pair(32, 32, 0)
    edited, _ = _pair(32, 40, 1)
    with pytest.raises(ValueError, match="size mismatch"):
        offline_model.annotate([(original, edited, "remove the cat")])


def test_decoder_fuses_on_the_grid_exactly_as_at_full_resolution():
    """The 1x1 fuse runs before upsampling (memory); the result must equal upsampling first."""
    torch.manual_seed(0)
    decoder = FPNMaskDecoder(16, 8, 3, stride=2).eval()
    levels = [torch.randn(2, 16, 8, 8) for _ in range(3)]
    z = torch.randn(2, 16, 8, 8)
    out = decoder(levels, z, (40, 40), (40, 40))

    sizes = decoder.pyramid_sizes((8, 8), 3)
    p = None
    for level, lateral, size in reversed(list(zip(levels, decoder.lateral, sizes, strict=True))):
        lat = lateral(resample(level, size))
        p = lat if p is None else lat + F.interpolate(p, size=size, mode="bilinear", align_corners=False)
    up = lambda x: F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)  # noqa: E731
    x = decoder.blocks(decoder.fuse(torch.cat([up(decoder.smooth(p)), up(z)], dim=1)))
    reference = F.interpolate(decoder.head(x), size=(40, 40), mode="bilinear", align_corners=False)
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-4)


def test_the_learned_grounder_reuses_the_annotators_backbone_features(offline_model):
    """One backbone pass serves grounding and the difference branch; the maps equal a separate pass."""
    rng = np.random.default_rng(3)
    o = torch.from_numpy(rng.random((2, 3, 64, 64), dtype=np.float32))
    e = o.flip(-1)
    texts = ["remove the cat", "replace the dog with a horse"]
    grid = offline_model.grid() if o.shape[-1] == offline_model.input_size else (4, 4)
    prior = IntentPrior(offline_model.prior.parser, offline_model.grounder, cache_size=8)
    fresh = IntentPrior(offline_model.prior.parser, offline_model.grounder, cache_size=8)
    calls = []
    original_backbone_forward = offline_model.backbone.forward
    offline_model.backbone.forward = lambda x, **kw: calls.append(len(x)) or original_backbone_forward(x, **kw)
    try:
        features = offline_model.backbone_features(o, e)
        shared, _ = prior(o, e, texts, grid, features)
        n_shared = len(calls)
        separate, _ = fresh(o, e, texts, grid)
    finally:
        offline_model.backbone.forward = original_backbone_forward
    torch.testing.assert_close(shared, separate, atol=1e-5, rtol=1e-4)
    assert n_shared == 1 and len(calls) == 2  # the shared prior ran no backbone pass of its own
