"""seqdown: length-exact, batch-invariant, anti-aliased downsampling of 1-D sequences.

Front-ends (``torch.nn.Module``, subclasses of :class:`FrontEnd`, input
``(batch, channels, time)``, ``forward(x, lengths=None) -> (y, out_lengths)``):

==================  =========================  ====================================
front-end           output length              anti-aliasing
==================  =========================  ====================================
``MaxPool``         :func:`pool_length`        none
``AvgPool``         :func:`pool_length`        weak (box filter)
``StridedConv``     :func:`conv_length`        whatever the kernel learns
``Decimate``        ``ceil(n / factor)``       Kaiser FIR from a spec (60 dB default)
``Resample``        ``ceil(n * new / orig)``   Kaiser FIR from a spec (100 dB default)
``BlurPool``        ``floor(n / factor)``      binomial blur after a dense max
``FrameStack``      :func:`stack_length`       none needed (nothing is dropped)
``PyramidPool``     one vector per item        n/a (fixed-size summary)
``Chain``           composition of its stages  that of its stages
==================  =========================  ====================================

Upsampling, the decoder's half (``forward(x, lengths=None, target_length=None)``):
:class:`Upsample` (nearest, linear, sinc) and :class:`TransposedConv`.

Also: :func:`build_frontend` (spec strings such as ``"decimate:2+max:2"``),
:class:`RNNEncoder`, the functions :func:`decimate`, :func:`resample`,
:func:`blur_pool`, :func:`frame_stack`, :func:`pyramid_pool`,
:func:`design_lowpass`, and the length algebra in :mod:`seqdown.lengths`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from seqdown._lazy import attach

try:
    __version__ = version("seqdown")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"

#: Every public name and the module that defines it; each is imported on first use, so
#: ``import seqdown`` (and the ``seqdown`` command's ``--help``) does not import torch.
_EXPORTS = {
    "AvgPool": "seqdown.frontends",
    "BlurPool": "seqdown.frontends",
    "Chain": "seqdown.frontends",
    "Decimate": "seqdown.frontends",
    "FrameStack": "seqdown.frontends",
    "FrontEnd": "seqdown.frontends",
    "MaxPool": "seqdown.frontends",
    "PyramidPool": "seqdown.frontends",
    "RNNEncoder": "seqdown.frontends",
    "Resample": "seqdown.frontends",
    "StridedConv": "seqdown.frontends",
    "TransposedConv": "seqdown.frontends",
    "Upsample": "seqdown.frontends",
    "blur_pool": "seqdown.frontends",
    "build_frontend": "seqdown.frontends",
    "conv_length": "seqdown.lengths",
    "decimate": "seqdown.frontends",
    "design_lowpass": "seqdown.dsp",
    "frame_stack": "seqdown.frontends",
    "lengths_to_mask": "seqdown.lengths",
    "pad_or_trim": "seqdown.frontends",
    "pool_length": "seqdown.lengths",
    "pyramid_pool": "seqdown.frontends",
    "resample": "seqdown.frontends",
    "resample_length": "seqdown.lengths",
    "stack_length": "seqdown.lengths",
    "target_lengths": "seqdown.lengths",
    "transposed_conv_length": "seqdown.lengths",
    "upsample": "seqdown.frontends",
    "upsample_length": "seqdown.lengths",
}

__getattr__, __dir__ = attach(__name__, _EXPORTS)
__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # what the names are, for type checkers and IDEs
    from seqdown.dsp import design_lowpass
    from seqdown.frontends import (
        AvgPool,
        BlurPool,
        Chain,
        Decimate,
        FrameStack,
        FrontEnd,
        MaxPool,
        PyramidPool,
        Resample,
        RNNEncoder,
        StridedConv,
        TransposedConv,
        Upsample,
        blur_pool,
        build_frontend,
        decimate,
        frame_stack,
        pad_or_trim,
        pyramid_pool,
        resample,
        upsample,
    )
    from seqdown.lengths import (
        conv_length,
        lengths_to_mask,
        pool_length,
        resample_length,
        stack_length,
        target_lengths,
        transposed_conv_length,
        upsample_length,
    )
