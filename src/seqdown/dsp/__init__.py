"""The DSP engine: filter design and resampling on plain tensors (no ``nn.Module`` here).

=============================  =====================================================
name                           what it is
=============================  =====================================================
:func:`design_lowpass`         the anti-aliasing FIR for ``up / down``, from a spec
:func:`binomial_taps`          the binomial blur of blur pooling
:func:`kaiser_spec`            Kaiser's length and shape estimate for a spec
:func:`polyphase_kernel`       a filter laid out for the polyphase ``conv1d``
:func:`polyphase_resample`     the polyphase engine on ``(rows, time)``
:func:`resampling_kernel`      the cached kernel for ``(up, down, attenuation, transition)``
:func:`apply_kernel`           a kernel on ``(..., time)``, keeping the dtype
:func:`rate_ratio`             ``(up, down)`` from two sample rates
:class:`StreamingResampler`    the same resampling, block by block, in bounded memory
``DECIMATE_*``, ``RESAMPLE_*``  the default specs of ``Decimate`` and ``Resample``
=============================  =====================================================
"""

from seqdown.dsp.filters import (
    DECIMATE_ATTENUATION,
    DECIMATE_DEFAULT_TAPS,
    DECIMATE_TRANSITION,
    RESAMPLE_ATTENUATION,
    RESAMPLE_TRANSITION,
    binomial_taps,
    design_lowpass,
    kaiser_spec,
)
from seqdown.dsp.polyphase import (
    PolyphaseKernel,
    apply_kernel,
    compute_dtype,
    polyphase_kernel,
    polyphase_resample,
    polyphase_steps,
    rate_ratio,
    resampling_kernel,
)
from seqdown.dsp.streaming import StreamingResampler

__all__ = [
    "DECIMATE_ATTENUATION",
    "DECIMATE_DEFAULT_TAPS",
    "DECIMATE_TRANSITION",
    "RESAMPLE_ATTENUATION",
    "RESAMPLE_TRANSITION",
    "PolyphaseKernel",
    "StreamingResampler",
    "apply_kernel",
    "binomial_taps",
    "compute_dtype",
    "design_lowpass",
    "kaiser_spec",
    "polyphase_kernel",
    "polyphase_resample",
    "polyphase_steps",
    "rate_ratio",
    "resampling_kernel",
]
