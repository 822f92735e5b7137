"""Inpainters by name: fill a region of a photo from its surroundings.

``telea`` / ``ns``: OpenCV's classical methods (fast, offline). ``diffusers``: any diffusers
inpainting pipeline (e.g. ``stable-diffusion-v1-5/stable-diffusion-inpainting``) from the local
Hugging Face cache or a folder, for realistic removals on a GPU. Every inpainter changes only
pixels inside the region, so masks stay exact.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Inpainter = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]
OPENCV_FLAGS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def opencv_inpainter(method: str, radius: int = 5) -> Inpainter:
    def inpaint(image: np.ndarray, region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        filled = cv2.inpaint(image[..., ::-1].copy(), region.astype(np.uint8) * 255, radius, OPENCV_FLAGS[method])
        return np.where(region[..., None], filled[..., ::-1], image)

    return inpaint


class DiffusersInpainter:
    """A diffusers inpainting pipeline; ``image`` ``(H, W, 3)`` uint8, ``region`` ``(H, W)`` bool.

    The pipeline runs at the image size rounded up to a multiple of 8 and its output is pasted back
    inside ``region`` only. The seed comes from the pair's RNG, so synthesis stays deterministic.
    """

    def __init__(self, model: str, steps: int = 25, prompt: str = "background, empty scene", device: str | None = None):
        import torch
        from diffusers import DiffusionPipeline

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self.pipe = DiffusionPipeline.from_pretrained(model, torch_dtype=dtype).to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.steps, self.prompt = steps, prompt

    def __call__(self, image: np.ndarray, region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import torch
        from PIL import Image

        h, w = image.shape[:2]
        ph, pw = -(-h // 8) * 8, -(-w // 8) * 8
        generator = torch.Generator(self.device).manual_seed(int(rng.integers(2**31)))
        out = self.pipe(
            prompt=self.prompt,
            image=Image.fromarray(image).resize((pw, ph), Image.Resampling.BICUBIC),
            mask_image=Image.fromarray(region.astype(np.uint8) * 255).resize((pw, ph), Image.Resampling.NEAREST),
            height=ph,
            width=pw,
            num_inference_steps=self.steps,
            generator=generator,
            output_type="np",
        ).images[0]
        filled = cv2.resize((out * 255).round().clip(0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_AREA)
        return np.where(region[..., None], filled, image)


def build_inpainter(method: str, model: str | None = None, steps: int = 25) -> Inpainter:
    if method in OPENCV_FLAGS:
        return opencv_inpainter(method)
    if method == "diffusers":
        if not model:
            raise ValueError("inpaint_method=diffusers needs inpaint_model (a hub id in the local cache or a folder)")
        return DiffusersInpainter(model, steps)
    raise ValueError(f"unknown inpaint_method {method!r}; known: telea, ns, diffusers")
