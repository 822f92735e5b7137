"""Stage II losses and the EMA teacher, on hand-made tensors with values worked out by hand."""

import math

import pytest
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from sigma.train.losses import dice_loss, seg_loss
from sigma.train.stage2 import calibration_loss, disentanglement_loss, pseudo_label_loss


def test_seg_loss_value_at_zero_logits():
    target = torch.zeros(1, 1, 2, 2)
    target[..., 0, :] = 1  # half the pixels
    # BCE at p = 0.5 is log 2 for every pixel; Dice = 1 - (2 * 1 + 1) / (2 + 2 + 1)
    assert seg_loss(torch.zeros(1, 1, 2, 2), target).item() == pytest.approx(math.log(2) + 1 - 3 / 5)
    assert dice_loss(torch.full((1, 1, 2, 2), 50.0), target).item() == pytest.approx(1 - 5 / 7, abs=1e-6)


def test_calibration_loss_is_bce_against_zero():
    assert calibration_loss(torch.zeros(2, 1, 3, 3)).item() == pytest.approx(math.log(2))
    assert calibration_loss(torch.full((1, 1, 2, 2), -20.0)).item() < 1e-8


def test_pseudo_labels_count_only_confident_pixels():
    teacher = torch.tensor([0.9, 0.5, 0.1, 0.7]).view(1, 1, 2, 2)
    student = torch.zeros(1, 1, 2, 2)
    # confident: 0.9 and 0.1; BCE(p=0.5, t) = log 2 whatever t
    assert pseudo_label_loss(student, teacher, 0.8, 0.2).item() == pytest.approx(math.log(2))
    logit = math.log(0.9 / 0.1)
    student = torch.tensor([logit, -5.0, -logit, 5.0]).view(1, 1, 2, 2)
    expected = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))  # entropy: the minimum, at p = t
    assert pseudo_label_loss(student, teacher, 0.8, 0.2).item() == pytest.approx(expected, rel=1e-5)
    student.requires_grad_(True)
    pseudo_label_loss(student, teacher, 0.8, 0.2).backward()
    assert student.grad.view(-1)[1] == 0 and student.grad.view(-1)[3] == 0  # unconfident: no gradient


def test_pseudo_labels_with_nothing_confident_give_zero_and_a_graph():
    student = torch.zeros(1, 1, 2, 2, requires_grad=True)
    loss = pseudo_label_loss(student, torch.full((1, 1, 2, 2), 0.5), 0.8, 0.2)
    loss.backward()
    assert loss.item() == 0 and student.grad is not None


def test_disentanglement_hinges_positive_cosines_over_the_support():
    d_edit = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 3.0]]])
    d_noise = torch.tensor([[[2.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]])  # cos: 1, -1 (hinged to 0), 1
    support = torch.tensor([[1.0, 1.0, 0.5]])
    assert disentanglement_loss(d_edit, d_noise, support).item() == pytest.approx((1 + 0 + 0.5) / 2.5)
    assert disentanglement_loss(d_edit, d_noise, torch.tensor([[0.0, 1.0, 0.0]])).item() == 0
    orthogonal = torch.tensor([[[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]])
    assert disentanglement_loss(d_edit, orthogonal, support).item() == pytest.approx(0)


def test_disentanglement_gradient_pushes_edit_away_from_noise():
    d_edit = torch.tensor([[[1.0, 1.0]]], requires_grad=True)
    d_noise = torch.tensor([[[1.0, 0.0]]])
    disentanglement_loss(d_edit, d_noise, torch.ones(1, 1)).backward()
    assert d_edit.grad[0, 0, 0] > 0  # descending lowers the component along the noise direction


def test_ema_teacher_moves_by_one_minus_momentum():
    student = torch.nn.Linear(2, 1)
    teacher = AveragedModel(student, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    before = teacher.module.weight.detach().clone()
    with torch.no_grad():
        student.weight.add_(1.0)
    teacher.update_parameters(student)  # the first call copies the student
    teacher.update_parameters(student)
    assert torch.allclose(teacher.module.weight, before + 1.0)
    with torch.no_grad():
        student.weight.add_(1.0)
    teacher.update_parameters(student)
    assert torch.allclose(teacher.module.weight, before + 1.0 + 0.1)
