"""The front-ends: ``torch.nn.Module`` s that shorten ``(batch, channels, time)`` sequences.

Every downsampling front-end is a :class:`FrontEnd`: ``forward(x, lengths=None)``
returns ``(y, out_lengths)`` with ``out_lengths = output_length(lengths)`` from
:mod:`seqdown.lengths`, and an item's output never depends on its padding or on
the other items of the batch. Most come with a functional form of the same name.

==================  ========================  ================================
module              Module                    function
==================  ========================  ================================
``base``            :class:`FrontEnd`         :func:`fill_padding`
``pooling``         ``MaxPool``, ``AvgPool``
``conv``            ``StridedConv``
``resampling``      ``Decimate``, ``Resample``  ``decimate``, ``resample``
``blur``            ``BlurPool``              ``blur_pool``
``stack``           ``FrameStack``            ``frame_stack``
``pyramid``         ``PyramidPool``           ``pyramid_pool``
``chain``           ``Chain``                 ``build_frontend`` (spec strings)
``upsampling``      ``Upsample``,             ``upsample``, ``pad_or_trim``
                    ``TransposedConv``
``encoder``         ``RNNEncoder``
==================  ========================  ================================
"""

from seqdown.frontends.base import FrontEnd, PaddedBatchModule, WindowedFrontEnd, fill_padding
from seqdown.frontends.blur import BlurPool, blur_pool
from seqdown.frontends.chain import SPEC_NAMES, Chain, build_frontend
from seqdown.frontends.conv import StridedConv
from seqdown.frontends.encoder import RNNEncoder
from seqdown.frontends.pooling import AvgPool, MaxPool
from seqdown.frontends.pyramid import PyramidPool, pyramid_pool
from seqdown.frontends.resampling import Decimate, Resample, decimate, resample
from seqdown.frontends.stack import FrameStack, frame_stack
from seqdown.frontends.upsampling import TransposedConv, Upsample, pad_or_trim, upsample

__all__ = [
    "SPEC_NAMES",
    "AvgPool",
    "BlurPool",
    "Chain",
    "Decimate",
    "FrameStack",
    "FrontEnd",
    "MaxPool",
    "PaddedBatchModule",
    "PyramidPool",
    "RNNEncoder",
    "Resample",
    "StridedConv",
    "TransposedConv",
    "Upsample",
    "WindowedFrontEnd",
    "blur_pool",
    "build_frontend",
    "decimate",
    "fill_padding",
    "frame_stack",
    "pad_or_trim",
    "pyramid_pool",
    "resample",
    "upsample",
]
