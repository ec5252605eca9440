"""The DSP engine: filter design and resampling on plain tensors (no ``nn.Module`` here).

=============================  =====================================================
name                           what it is
=============================  =====================================================
:func:`design_lowpass`         the anti-aliasing FIR for ``up / down``, from a spec
:func:`design_sinc`            the same spec as a continuous filter, at the input rate
:func:`binomial_taps`          the binomial blur of blur pooling
:func:`kaiser_spec`            Kaiser's length and shape estimate for a spec
:func:`quality_spec`           the spec of a named preset (``"hq"``, ``"vhq"``)
:func:`polyphase_kernel`       a filter laid out for the polyphase ``conv1d``
:func:`polyphase_resample`     the exact polyphase engine on ``(rows, time)``
:func:`overlap_save_plan`      a filter laid out for the overlap-save FFT engine
:func:`overlap_save_resample`  the FFT engine on ``(rows, time)``: any ratio, bounded memory
:func:`table_resample`         the tabulated-filter engine, for ratios with huge terms
:func:`cascade_resample`       two stages for extreme decimation (768 kHz -> 1 Hz)
:func:`resampling_plan`        the cached plan for a ratio and a spec (picks the engine)
:func:`resample_rows`          a plan on ``(..., time)``, with ``padtype``, keeping the dtype
:func:`rate_ratio`             ``(up, down)`` from two sample rates
:func:`check_sample_rate`      a sample rate as users hold it (``44100``, ``44100.0``)
:class:`StreamingResampler`    the same resampling, block by block, in bounded memory
``DECIMATE_*``, ``RESAMPLE_*``  the default specs of ``Decimate`` and ``Resample``
=============================  =====================================================
"""

from seqdown.dsp.cascade import cascade_resample
from seqdown.dsp.engine import (
    METHODS,
    Method,
    ResamplingPlan,
    compute_dtype,
    fft_error_bound,
    plan_buffer,
    resample_rows,
    resampling_plan,
)
from seqdown.dsp.filters import (
    DECIMATE_ATTENUATION,
    DECIMATE_DEFAULT_TAPS,
    DECIMATE_TRANSITION,
    RESAMPLE_ATTENUATION,
    RESAMPLE_PRESETS,
    RESAMPLE_TRANSITION,
    Quality,
    SincDesign,
    binomial_taps,
    design_lowpass,
    design_sinc,
    kaiser_spec,
    quality_spec,
)
from seqdown.dsp.overlap_save import OverlapSavePlan, overlap_save_plan, overlap_save_resample
from seqdown.dsp.padding import PADTYPES, PadType
from seqdown.dsp.polyphase import (
    PolyphaseKernel,
    polyphase_kernel,
    polyphase_resample,
    polyphase_steps,
)
from seqdown.dsp.rates import MAX_SAMPLE_RATE, check_sample_rate, rate_ratio
from seqdown.dsp.streaming import StreamingResampler
from seqdown.dsp.table import TablePlan, table_plan, table_resample

__all__ = [
    "DECIMATE_ATTENUATION",
    "DECIMATE_DEFAULT_TAPS",
    "DECIMATE_TRANSITION",
    "MAX_SAMPLE_RATE",
    "METHODS",
    "PADTYPES",
    "RESAMPLE_ATTENUATION",
    "RESAMPLE_PRESETS",
    "RESAMPLE_TRANSITION",
    "Method",
    "OverlapSavePlan",
    "PadType",
    "PolyphaseKernel",
    "Quality",
    "ResamplingPlan",
    "SincDesign",
    "StreamingResampler",
    "TablePlan",
    "binomial_taps",
    "cascade_resample",
    "check_sample_rate",
    "compute_dtype",
    "design_lowpass",
    "design_sinc",
    "fft_error_bound",
    "kaiser_spec",
    "overlap_save_plan",
    "overlap_save_resample",
    "plan_buffer",
    "polyphase_kernel",
    "polyphase_resample",
    "polyphase_steps",
    "quality_spec",
    "rate_ratio",
    "resample_rows",
    "resampling_plan",
    "table_plan",
    "table_resample",
]
