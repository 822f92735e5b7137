"""Any evaluation method as the annotator of a run: ``sigma annotate --model method:NAME[@MODEL]``.

The same shards, records, rejects and IMDL-BenCo export then come from a baseline
(``method:pixdiff_morph``), a model's instruction prior alone
(``method:instruction_only@models/stage2/sigma.safetensors``) or a trained IML detector
(``method:detector@models/downstream/mobilenet_unet/truth/seed0.safetensors``; ``sigma detect``),
so their masks reach a detector by exactly the path SIGMA's do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace

import torch

from sigma.eval.methods import build_method
from sigma.eval.methods.base import Triple, split_method
from sigma.model.parsing.base import ParsedInstruction

PREFIX = "method:"
CERTAIN = 10.0  # logit magnitude of a method's binary mask: sigmoid(10) = 0.99995


def is_method(uri: str) -> bool:
    return uri.startswith(PREFIX)


class MethodAnnotator(torch.nn.Module):
    """What the annotation engine calls on a model (``iter_outputs``, ``config.threshold``, ``prior``),
    over the evaluation method ``uri`` names. Methods give binary masks: the records' confidence is 1,
    and nothing is split into side effects."""

    def __init__(self, uri: str, batch_size: int = 16):
        super().__init__()
        self.uri, self.name = uri, uri[len(PREFIX) :]
        self.method = build_method(self.name, batch_size=batch_size)
        # Never used: the split of a baseline's mask is always unknown.
        self.config = SimpleNamespace(
            threshold=0.5, intended_threshold=0.1, postprocess=SimpleNamespace(min_region=0.0)
        )
        self.prior = SimpleNamespace(
            source=lambda _parsed: f"none: {self.name} labels the pair",
            unknown_split_reason=lambda _parsed, _intent: f"{self.name} does not split its masks",
        )
        self.device_anchor = torch.nn.Parameter(torch.zeros(1), requires_grad=False)  # the engine reads the device

    def fuse_for_inference(self) -> MethodAnnotator:
        return self

    def digest(self) -> str:
        """What labelled the run: the method, and the bytes of the weights it pins (if any)."""
        digest = hashlib.sha256(self.name.encode())
        weights = split_method(self.name)[1]
        if weights and Path(weights).is_file():
            with open(weights, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        return f"sha256:{digest.hexdigest()[:16]}"

    def iter_outputs(
        self, pairs: Iterable[Triple], batch_size: int = 8, use_instruction: bool = True
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, ParsedInstruction]]:
        """As :meth:`SigmaAnnotator.iter_outputs`: logits ``(2, H, W)`` (edit; attribution all intended),
        an empty intent map ``(H, W)`` and an empty parse per pair."""
        triples = list(pairs)
        for start in range(0, len(triples), batch_size):
            for pred in self.method.predict(triples[start : start + batch_size]):
                edit = torch.from_numpy(pred.mask).float() * (2 * CERTAIN) - CERTAIN
                yield torch.stack([edit, torch.full_like(edit, CERTAIN)]), torch.zeros_like(edit), ParsedInstruction()
