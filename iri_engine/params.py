"""Image parameterisations: what the optimiser actually moves (docs/method.md §1 and §5).

A parameterisation maps a variable to an image in [0, 1]:
- ``PixelParam``: the variable is the image; after each step it is clamped to [0, 1].
- ``FourierParam`` (lucid's decorrelated space): the variable is a spectrum of shape
  (B, 3, H, W//2+1, 2) (odd W: W//2+2) and
  ``image = sigmoid(decorrelate(irfft2(scale * spectrum, norm="ortho") / 4))`` with
  ``scale = 1 / max(f, 1/max(H, W))``. The spectrum is never clamped (the reference clamps it,
  a bug docs/method.md §5 tells us not to copy).
"""

from __future__ import annotations

from typing import Protocol

import torch

# Square-root colour correlation of ImageNet (lucid), columns normalised below (docs/method.md §5).
_COLOR_CORRELATION_SQRT = ((0.26, 0.09, 0.02), (0.27, 0.00, -0.05), (0.27, -0.09, 0.03))
_LOGIT_EPS = 1e-3  # keeps logit finite when inverting black/white seed pixels


class Parameterization(Protocol):
    """Maps an optimisation variable to images and back."""

    name: str

    def init(self, images: torch.Tensor) -> torch.Tensor:
        """A variable (leaf tensor, no grad yet) whose image is ``images`` (B, 3, H, W)."""

    def to_image(self, variable: torch.Tensor) -> torch.Tensor:
        """Differentiable map from the variable to (B, 3, H, W) images in [0, 1]."""

    def project(self, variable: torch.Tensor) -> None:
        """Bring the variable back into its feasible set, in place, after a step."""


class PixelParam:
    """The image itself; feasible set [0, 1]^n (Nanda's unconstrained step + clamp)."""

    name = "pixel"

    def init(self, images: torch.Tensor) -> torch.Tensor:
        return images.detach().clone().clamp_(0.0, 1.0)

    def to_image(self, variable: torch.Tensor) -> torch.Tensor:
        return variable

    def project(self, variable: torch.Tensor) -> None:
        variable.clamp_(0.0, 1.0)


def color_decorrelation_matrix(device=None, dtype=torch.float32) -> torch.Tensor:
    """(3, 3) lucid colour matrix divided by its largest column norm (docs/method.md §5)."""
    matrix = torch.tensor(_COLOR_CORRELATION_SQRT, device=device, dtype=dtype)
    return matrix / matrix.norm(dim=0).max()


def spectrum_columns(width: int) -> int:
    """Columns of the half spectrum: W//2+1, or W//2+2 for odd W (lucid's rfft2d_freqs)."""
    return width // 2 + 1 + (width % 2)


def fourier_scale(height: int, width: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """(H, cols, 1) spectrum weights 1 / max(f, 1/max(H, W)) (decay power 1, docs/method.md §5)."""
    fy = torch.fft.fftfreq(height, device=device, dtype=dtype)[:, None]
    # lucid takes the first W//2+1 (even W) or W//2+2 (odd W) entries of fftfreq(W), with their
    # signs, and only uses them through their square.
    fx = torch.fft.fftfreq(width, device=device, dtype=dtype)[: spectrum_columns(width)][None, :]
    freqs = torch.sqrt(fx * fx + fy * fy)
    return (1.0 / torch.clamp(freqs, min=1.0 / max(height, width)))[..., None]


class FourierParam:
    """lucid's decorrelated Fourier parameterisation (docs/method.md §5), unclamped spectrum."""

    name = "fourier"

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width

    def _constants(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scale = fourier_scale(self.height, self.width, device=like.device, dtype=like.dtype)
        return scale, color_decorrelation_matrix(device=like.device, dtype=like.dtype)

    def to_image(self, variable: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, cols, 2) spectrum -> (B, 3, H, W) image in (0, 1)."""
        scale, color = self._constants(variable)
        spectrum = torch.view_as_complex((scale * variable).contiguous())
        cols = variable.shape[-2]
        # irfft2 to width 2*(cols-1): W for even W, W+1 for odd W, cropped to W as lucid does.
        raw = torch.fft.irfft2(spectrum, s=(self.height, 2 * (cols - 1)), norm="ortho")
        raw = raw[..., : self.height, : self.width] / 4.0
        rgb = torch.einsum("ij,bjhw->bihw", color, raw)
        return torch.sigmoid(rgb)

    def init(self, images: torch.Tensor) -> torch.Tensor:
        """The spectrum whose image is ``images`` (inverting sigmoid, colour, FFT and scale)."""
        scale, color = self._constants(images)
        rgb = torch.logit(images.detach().clamp(_LOGIT_EPS, 1 - _LOGIT_EPS))
        raw = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(color), rgb) * 4.0
        if self.width % 2:  # odd W: the image came from a W+1 wide irfft; pad one column back
            raw = torch.cat([raw, raw[..., -1:]], dim=-1)
        spectrum = torch.fft.rfft2(raw, norm="ortho")
        return torch.view_as_real(spectrum).div(scale).contiguous()

    def project(self, variable: torch.Tensor) -> None:
        # Deliberately nothing: the reference clamps the spectrum, which docs/method.md §5 calls a bug.
        return None


def make_parameterization(name: str, *, height: int, width: int) -> Parameterization:
    """``"pixel"`` or ``"fourier"`` for images of height x width."""
    if name == "pixel":
        return PixelParam()
    if name == "fourier":
        return FourierParam(height, width)
    raise ValueError(f"unknown parameterization {name!r}; known: pixel, fourier")


def is_spectrum_shape(shape: tuple[int, ...], height: int, width: int) -> bool:
    """Whether ``shape`` is a (B, 3, H, cols, 2) spectrum for an H x W image."""
    return len(shape) == 5 and tuple(shape[1:]) == (3, height, spectrum_columns(width), 2)


__all__ = ["PixelParam", "FourierParam", "make_parameterization", "fourier_scale",
           "color_decorrelation_matrix", "spectrum_columns", "is_spectrum_shape"]
