"""Instruction -> spatial prior: parse, ground both concepts, combine by action; cached."""

from __future__ import annotations

import hashlib

import torch
from cachetools import LRUCache

from sigma.model.blocks import resample
from sigma.model.grounding.base import Grounder
from sigma.model.intent import intent_map
from sigma.model.parsing.base import Edit, ParsedInstruction
from sigma.model.parsing.phrases import names_no_kind

# Which grounded concept each action's intent map reads (the other is never computed).
USES_ORIGINAL = ("remove", "replace", "attribute_change", "move")
USES_EDITED = ("add", "replace", "attribute_change", "move")
# An intent map reaching no higher than eps + this holds nothing the grounder found (resampling may add a little)
FOUND_MARGIN = 1e-3


def concepts_read(edit: Edit) -> list[str]:
    """The concepts that ``edit``'s intent map is grounded from (:data:`USES_ORIGINAL`, :data:`USES_EDITED`)."""
    used = (
        edit.original if edit.action in USES_ORIGINAL else None,
        edit.edited if edit.action in USES_EDITED else None,
    )
    return [c for c in used if c]


def image_key(image: torch.Tensor) -> str:
    """Content digest of one ``(3, H, W)`` image: the cache key that survives re-loading."""
    data = image.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class IntentPrior:
    """Builds the intent maps ``(B, 1, h, w)`` of a batch from its instructions.

    A multi-edit instruction gives the union (pixel-wise max) of its edits' maps. A parse with no
    edit, or less sure than ``min_confidence``, gives the uniform ``eps`` prior (:meth:`source`
    says which and why). Parser results are cached per instruction text and grounder results per (image content,
    concept), so a corpus that repeats an image or a concept pays for it once.
    """

    def __init__(
        self, parser, grounder: Grounder, eps: float = 0.001, cache_size: int = 4096, min_confidence: float = 0.0
    ):
        self.parser, self.grounder, self.eps, self.min_confidence = parser, grounder, eps, min_confidence
        self._parsed: LRUCache = LRUCache(max(1, cache_size))
        self._grounded: LRUCache = LRUCache(max(1, cache_size))
        self.stats = {"parse_calls": 0, "ground_calls": 0}

    def parse(self, instruction: str) -> ParsedInstruction:
        text = (instruction or "").strip()
        if not text:
            return ParsedInstruction()
        if text not in self._parsed:
            self.stats["parse_calls"] += 1
            self._parsed[text] = self.parser.parse(text)
        return self._parsed[text]

    def _ground(
        self, requests: list[tuple[torch.Tensor, str, str, list | None]], grid: tuple[int, int]
    ) -> dict[tuple[str, str], torch.Tensor | None]:
        """This batch's grounded maps by ``(image key, concept)``: cache hits plus new results (held
        here, not re-read from the cache, which may already have evicted them)."""
        batch: dict[tuple[str, str], torch.Tensor | None] = {}
        todo: dict[tuple[str, str], tuple[torch.Tensor, list | None]] = {}
        for img, concept, key, feats in requests:
            if (key, concept) in self._grounded:
                batch[(key, concept)] = self._grounded[(key, concept)]
            else:
                todo.setdefault((key, concept), (img, feats))
        if todo:
            self.stats["ground_calls"] += len(todo)
            images, feats = zip(*todo.values(), strict=True)
            levels = None if feats[0] is None else [torch.stack(level) for level in zip(*feats, strict=True)]
            maps = self.grounder.ground(torch.stack(images), [c for _, c in todo], levels)
            for pair, found in zip(todo, maps, strict=True):
                if found is not None:
                    found = resample(found[None, None].float(), grid)[0, 0].clamp(0, 1).cpu()
                batch[pair] = self._grounded[pair] = found
        return batch

    def __call__(
        self,
        originals: torch.Tensor,
        editeds: torch.Tensor,
        instructions: list[str],
        grid: tuple[int, int],
        features: tuple[list, list] | None = None,
    ) -> tuple[torch.Tensor, list[ParsedInstruction]]:
        """``originals``/``editeds`` ``(B, 3, H, W)`` in [0, 1] -> intent ``(B, 1, h, w)`` and the parses.

        ``features``: both images' backbone levels, handed to a grounder that shares the backbone
        so that it does not run it again."""

        def feats(side: int, i: int) -> list | None:
            return None if features is None else [level[i] for level in features[side]]

        parsed = [self.parse(text) for text in instructions]
        used = [p.edits if p.uniform_reason(self.min_confidence) is None else () for p in parsed]
        keys_o = [image_key(img) for img in originals]
        keys_e = [image_key(img) for img in editeds]
        requests = []
        for i, edits in enumerate(used):
            for edit in edits:
                if edit.original and edit.action in USES_ORIGINAL:
                    requests.append((originals[i], edit.original, keys_o[i], feats(0, i)))
                if edit.edited and edit.action in USES_EDITED:
                    requests.append((editeds[i], edit.edited, keys_e[i], feats(1, i)))
        grounded = self._ground(requests, grid)
        maps = []
        for i, edits in enumerate(used):
            per_edit = [
                # A None concept was never requested: .get would find no key holding it either.
                intent_map(
                    e.action,
                    grounded.get((keys_o[i], e.original)) if e.original and e.action in USES_ORIGINAL else None,
                    grounded.get((keys_e[i], e.edited)) if e.edited and e.action in USES_EDITED else None,
                    self.eps,
                    grid,
                )
                for e in edits
            ]
            maps.append(torch.stack(per_edit).amax(0) if per_edit else torch.full(grid, self.eps))
        return torch.stack(maps)[:, None].to(originals.device), parsed

    def unknown_split_reason(self, parsed: ParsedInstruction, intent: torch.Tensor) -> str | None:
        """Why the intended / side-effect split of a pair cannot hold (None: it can). The split rests on
        the instruction's grounded prior (``intent`` ``(H, W)``, as :meth:`__call__` made it): without one
        (no edit parsed, an unsure parse), for a global edit, when a concept says where but not what
        ("the region": the grounder picks one of many), when the grounder was never taught a concept
        (:meth:`Grounder.knows`), or when it found none of the concepts (a uniform ``eps`` map), calling
        every change intended would be a guess."""
        if (reason := parsed.uniform_reason(self.min_confidence)) is not None:
            return f"no instruction prior: {reason}"
        if any(edit.action == "global" for edit in parsed.edits):
            return "a global edit: the instruction names no region"
        concepts = [c for edit in parsed.edits for c in concepts_read(edit)]
        if generic := [c for c in concepts if names_no_kind(c)]:
            return f"the instruction names no particular object ({generic[0]!r}): which one it means is a guess"
        if unknown := [c for c in concepts if not self.grounder.knows(c)]:
            return f"the grounder was never taught {unknown[0]!r}: its map of it shows what looks most like it"
        if float(intent.max()) <= self.eps + FOUND_MARGIN:
            return "the grounder found none of the instruction's concepts"
        return None

    def source(self, parsed: ParsedInstruction) -> str:
        """What the prior of this parse was made from, for the record: ``instruction`` or
        ``uniform: <why>``."""
        reason = parsed.uniform_reason(self.min_confidence)
        return "instruction" if reason is None else f"uniform: {reason}"
