"""The control networks' architecture: a small ResNet for 32 x 32 digit images.

Laid out like torchvision's ResNet (``conv1``, ``bn1``, ``relu``, ``layer1``..``layer3``,
``avgpool``, ``fc``), so the same layer names mean the same places: ``avgpool`` is the
penultimate (pooled) representation, as in Nanda et al. Three stages of one torchvision
``BasicBlock`` each, 16/32/64 channels: about 77,000 parameters (300 kB in fp32), so trained
weights can live in the repository.

Registered as the architecture ``installed:iris_digits_resnet`` through the ``iris.architectures``
entry point group (pyproject.toml), the same way an operator installs a lab's own architecture.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

WIDTHS = (16, 32, 64)
DEFAULT_CLASSES = 10


class DigitsResNet(nn.Module):
    """(B, 3, 32, 32) normalised images -> (B, num_classes) logits."""

    def __init__(self, num_classes: int = DEFAULT_CLASSES) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, WIDTHS[0], kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(WIDTHS[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = BasicBlock(WIDTHS[0], WIDTHS[0])
        self.layer2 = _down_block(WIDTHS[0], WIDTHS[1])
        self.layer3 = _down_block(WIDTHS[1], WIDTHS[2])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(WIDTHS[2], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _down_block(inplanes: int, planes: int) -> BasicBlock:
    downsample = nn.Sequential(nn.Conv2d(inplanes, planes, kernel_size=1, stride=2, bias=False),
                               nn.BatchNorm2d(planes))
    return BasicBlock(inplanes, planes, stride=2, downsample=downsample)


def build(num_classes: int | None = None) -> nn.Module:
    """The ``iris.architectures`` entry point: a freshly initialised DigitsResNet."""
    return DigitsResNet(num_classes or DEFAULT_CLASSES)
