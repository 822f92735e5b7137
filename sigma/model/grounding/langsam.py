"""The paper's grounder: GroundingDINO boxes for the concept, SAM masks inside them (LangSAM)."""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image

from sigma.model.backbones.base import PretrainedPart
from sigma.model.grounding.base import Grounder


def _load(loader: Any, source: str, key: str) -> Any:
    """``loader.from_pretrained(source)`` offline, or an error that says where the weights go."""
    try:
        return loader.from_pretrained(source)
    except (OSError, ValueError) as exc:  # transformers raises OSError (or ValueError) for a missing model
        raise FileNotFoundError(
            f"could not load {loader.__name__} from {key}={source!r}: the weights must be in the local "
            "Hugging Face cache (fetch them while online, e.g. `hf download <hub id>`) or in a local folder "
            f"that `{key}` names ({type(exc).__name__}: {exc})"
        ) from exc


def _detector_text(concept: str) -> str:
    """GroundingDINO reads lowercase phrases, each ended by '.'."""
    text = concept.strip().lower()
    return text if text.endswith(".") else text + "."


class LangSamGrounder(Grounder, PretrainedPart):
    """GroundingDINO (``detector``) + SAM (``segmenter``) through transformers.

    Per image, the boxes GroundingDINO scores above ``box_threshold`` for the concept prompt SAM
    (one mask per box); the binary masks are max-merged into one ``(H, W)`` map at the input
    image's resolution, ``None`` when no box is found. ``text_threshold`` only picks the phrase
    tokens a box is labelled with (unused here: one concept per image).

    The models load lazily on the first :meth:`ground` (building the paper config needs no
    weights) and are kept out of the module tree: they are never part of a state dict, so a
    checkpoint always rebuilds them from ``detector``/``segmenter``. They run on the device this
    module is moved to (``.to(device)``).
    """

    _device_anchor: torch.Tensor  # buffer registered in __init__

    def __init__(self, detector: str, segmenter: str, box_threshold: float = 0.35, text_threshold: float = 0.25):
        super().__init__()
        self.detector, self.segmenter = detector, segmenter
        self.box_threshold, self.text_threshold = box_threshold, text_threshold
        self._models: dict[str, Any] = {}  # plain dict, not submodules: see the class docstring
        # Empty, non-persistent: follows .to(device) so the lazily loaded models can too.
        self.register_buffer("_device_anchor", torch.empty(0), persistent=False)
        self.freeze()

    @property
    def device(self) -> torch.device:
        return self._device_anchor.device

    def _loaded(self) -> dict[str, Any]:
        """The four transformers parts, loaded once, frozen, on :attr:`device`."""
        if not self._models:
            from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor, SamModel, SamProcessor

            self._models = {
                "det_processor": _load(GroundingDinoProcessor, self.detector, "model.grounder.detector"),
                "det": _load(GroundingDinoForObjectDetection, self.detector, "model.grounder.detector"),
                "sam_processor": _load(SamProcessor, self.segmenter, "model.grounder.segmenter"),
                "sam": _load(SamModel, self.segmenter, "model.grounder.segmenter"),
            }
            for name in ("det", "sam"):
                self._models[name].requires_grad_(False).eval()
        for name in ("det", "sam"):
            self._models[name].to(self.device)  # no-op unless this module moved since the last call
        return self._models

    @torch.no_grad()
    def detect(self, pils: list[Image.Image], concepts: list[str]) -> list[torch.Tensor]:
        """Boxes ``(n_i, 4)`` (x0, y0, x1, y1 in pixels, CPU) per image; one batched detector pass."""
        m = self._loaded()
        inputs = m["det_processor"](
            images=pils, text=[_detector_text(c) for c in concepts], padding="longest", return_tensors="pt"
        ).to(self.device)
        outputs = m["det"](**inputs)
        sizes = [(p.height, p.width) for p in pils]
        # transformers 5.x: the box score threshold is `threshold` (it was `box_threshold` before 4.51)
        results = m["det_processor"].post_process_grounded_object_detection(
            outputs,
            inputs["input_ids"],
            threshold=self.box_threshold,
            text_threshold=self.text_threshold,
            target_sizes=sizes,
        )
        boxes = []
        for r, (h, w) in zip(results, sizes, strict=True):
            b = r["boxes"].float().cpu()
            # Predicted boxes may stick out of the image; SAM expects in-image coordinates.
            b[:, 0::2] = b[:, 0::2].clamp(0, w)
            b[:, 1::2] = b[:, 1::2].clamp(0, h)
            boxes.append(b)
        return boxes

    @torch.no_grad()
    def segment(self, pils: list[Image.Image], boxes: list[torch.Tensor]) -> list[torch.Tensor]:
        """SAM masks for non-empty ``boxes`` ``(n_i, 4)`` -> merged binary maps ``(H, W)`` (CPU float)."""
        m = self._loaded()
        # SAM takes one (B, n, 4) box tensor: pad each image's boxes to a common n by repeating its
        # last box, which cannot change a max-merge.
        n = max(len(b) for b in boxes)
        padded = [torch.cat([b, b[-1:].expand(n - len(b), 4)]).tolist() for b in boxes]
        inputs = m["sam_processor"](images=pils, input_boxes=padded, return_tensors="pt")
        outputs = m["sam"](
            pixel_values=inputs["pixel_values"].to(self.device),
            input_boxes=inputs["input_boxes"].to(self.device),
            multimask_output=False,
        )
        masks = m["sam_processor"].post_process_masks(  # per image (n, 1, H, W) bool, mask logit > 0
            outputs.pred_masks.cpu(), inputs["original_sizes"], inputs["reshaped_input_sizes"]
        )
        return [mask.amax(dim=(0, 1)).float() for mask in masks]

    def ground(
        self, images: torch.Tensor, concepts: list[str], levels: list[torch.Tensor] | None = None
    ) -> list[torch.Tensor | None]:
        """``images`` ``(B, 3, H, W)`` in [0, 1] -> per image a binary ``(H, W)`` map, or ``None``."""
        # The processors expect 8-bit images (they rescale by 1/255 themselves).
        pixels = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        pils = [Image.fromarray(p) for p in pixels]
        boxes = self.detect(pils, concepts)
        found = [i for i, b in enumerate(boxes) if len(b)]
        maps: list[torch.Tensor | None] = [None] * len(concepts)
        if found:
            merged = self.segment([pils[i] for i in found], [boxes[i] for i in found])
            for i, merged_map in zip(found, merged, strict=True):
                maps[i] = merged_map.to(images.device)
        return maps
