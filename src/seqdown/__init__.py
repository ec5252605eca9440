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

from importlib.metadata import PackageNotFoundError, version

from seqdown.dsp.filters import design_lowpass
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

try:
    __version__ = version("seqdown")
except PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
    __version__ = "0+unknown"

__all__ = [
    "AvgPool",
    "BlurPool",
    "Chain",
    "Decimate",
    "FrameStack",
    "FrontEnd",
    "MaxPool",
    "PyramidPool",
    "RNNEncoder",
    "Resample",
    "StridedConv",
    "TransposedConv",
    "Upsample",
    "__version__",
    "blur_pool",
    "build_frontend",
    "conv_length",
    "decimate",
    "design_lowpass",
    "frame_stack",
    "lengths_to_mask",
    "pad_or_trim",
    "pool_length",
    "pyramid_pool",
    "resample",
    "resample_length",
    "stack_length",
    "target_lengths",
    "transposed_conv_length",
    "upsample",
    "upsample_length",
]
