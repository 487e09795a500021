"""The MNIST classifier behind the score: "a regular 3-layer ConvNet" (paper section 4.1).

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Networks", ICLR 2017, section
4.1 and appendix C, compute the modified inception score with "a regular 3-layer ConvNet
trained on the entire MNIST training set" and say nothing more about it. The project's
choice: three 3x3 convolution layers (each followed by 2x2 max pooling, batch norm and
ReLU) and one linear read-out, on the generators' own 32x32 input in [-1, 1], so a
generated sample is classified exactly as it was produced. Small enough to train on two
CPU cores in minutes, and >= 99% test accuracy on full MNIST.
"""
from __future__ import annotations

import torch
from torch import nn

IMAGE_SIZE = 32
N_CLASSES = 10
DEFAULT_WIDTHS = (16, 32, 64)
SIDE = IMAGE_SIZE // 2 ** 3  # three 2x2 poolings: 32 -> 4
FEATURE_DIM = DEFAULT_WIDTHS[-1] * SIDE * SIDE  # 64 * 4 * 4 = 1024 penultimate features


class ConvNet(nn.Module):
    """Three conv blocks (conv 3x3 -> max-pool 2 -> BN -> ReLU) and a linear read-out.

    Input (B, 1, 32, 32) or (B, 1024) in [-1, 1]; output (B, 10) logits. The flattened
    conv features that feed the read-out, (B, FEATURE_DIM), are the feature space of the
    Frechet distance (``features_and_logits``, ``evaluator.frechet``).
    """

    def __init__(self, widths: tuple[int, int, int] = DEFAULT_WIDTHS, dropout: float = 0.3) -> None:
        super().__init__()
        if len(widths) != 3:
            raise ValueError(f"ConvNet has exactly three conv layers; got widths {widths}")
        self.widths = tuple(int(w) for w in widths)
        self.dropout = float(dropout)
        layers: list[nn.Module] = []
        in_ch = 1
        for out_ch in self.widths:
            # No conv bias: the batch norm after it removes any constant. Pooling right
            # after the conv means BN and ReLU touch 4x fewer values (with channels_last,
            # 2x faster training on CPU than conv-BN-ReLU-pool, same accuracy).
            layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False), nn.MaxPool2d(2),
                       nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True)]
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.feature_dim = in_ch * SIDE * SIDE
        # Module indices are the state_dict keys of saved classifiers (head.2.weight): keep them.
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(self.dropout),
                                  nn.Linear(self.feature_dim, N_CLASSES))
        # NHWC is what oneDNN (CPU) and cuDNN convolve fastest; state_dicts are unaffected.
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]  # (B, 10)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One forward pass: penultimate features (B, C3*4*4) and logits (B, 10).

        The features are taken before dropout, so in eval mode logits = Linear(features).
        """
        if x.dim() == 2:  # generators emit flattened images
            x = x.view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)  # (B, 1, 32, 32)
        x = x.contiguous(memory_format=torch.channels_last)
        h = self.features(x)                        # (B, C3, 4, 4)
        flat = self.head[0](h)                      # (B, C3*16) in (C, H, W) order
        logits = self.head[2](self.head[1](flat))   # (B, 10)
        return flat, logits

    def config(self) -> dict:
        """Constructor arguments, stored in the manifest so a checkpoint rebuilds its net."""
        return {"widths": list(self.widths), "dropout": self.dropout}
