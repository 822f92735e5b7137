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


def test_a_small_side_effect_weighs_as_much_as_the_intended_pixels():
    """One side-effect pixel among 64 edited ones: calling it intended costs as much as calling every
    intended pixel a side effect would, so the channel cannot learn to call everything intended."""
    mask, side = _square(), torch.zeros(2, 1, 16, 16)
    side[:, :, 4, 4] = 1
    known = torch.tensor([True, True])
    all_intended = mask * 8 - 4  # +4 inside the edit: every pixel intended, the side effect too
    side_right = all_intended.clone()
    side_right[:, :, 4, 4] = -4
    missed, found = attribution_loss(all_intended, mask, side, known), attribution_loss(side_right, mask, side, known)
    assert missed > 2 * found + 0.5  # unbalanced, the one pixel would move the loss by under 1/64 of its BCE
