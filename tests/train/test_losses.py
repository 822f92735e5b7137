"""Losses: they prefer the right answer and ignore what they must not supervise."""

import torch

from sigma.train.losses import attribution_loss, seg_loss


def _square(size=16) -> torch.Tensor:
    mask = torch.zeros(2, 1, size, size)
    mask[:, :, 4:12, 4:12] = 1
    return mask


def test_seg_loss_prefers_the_mask():
    mask = _square()
    right, wrong = (mask * 2 - 1) * 8, (1 - mask * 2) * 8
    assert seg_loss(right, mask) < 0.05 < seg_loss(wrong, mask)


def test_attribution_loss_splits_intended_from_side_effect():
    mask = _square()
    side = torch.zeros_like(mask)
    side[:, :, 4:12, 8:12] = 1
    known = torch.tensor([True, True])
    right = ((mask - side) * 2 - 1) * 8
    assert attribution_loss(right, mask, side, known) < 0.01 < attribution_loss(-right, mask, side, known)


def test_attribution_loss_ignores_unknown_pairs_and_pixels_outside_the_edit():
    mask, side = _square(), torch.zeros(2, 1, 16, 16)
    logits = torch.zeros(2, 1, 16, 16, requires_grad=True)
    loss = attribution_loss(logits, mask, side, torch.tensor([False, False]))
    loss.backward()
    assert loss.item() == 0 and logits.grad is not None and not logits.grad.any()

    logits = torch.zeros(2, 1, 16, 16, requires_grad=True)
    attribution_loss(logits, mask, side, torch.tensor([True, False])).backward()
    assert logits.grad[1].abs().sum() == 0, "an unknown pair was supervised"
    assert logits.grad[0][mask[0] == 0].abs().sum() == 0, "pixels outside the edit were supervised"
    assert logits.grad[0][mask[0] > 0].abs().sum() > 0
