"""Signals: 1D self-attention networks, a 1D-CNN baseline and sliding-window voting.

The pairwise self-attention block of Zhao et al. ("Exploring Self-attention
for Image Recognition", CVPR 2020) in one dimension (:class:`SelfAttention1D`),
stacked into :class:`SAN1D` as in a thesis on recognising hand actions from
nerve signals measured at the wrist; :class:`CNN1D` is its baseline. Recordings
of any length are classified by voting over 64-sample windows
(:func:`classify_recording`). See ``docs/signal.md``.
"""

from tfxai.signal.attention import AttentionTrace, plot_attention, recording_attention, write_attention_csv
from tfxai.signal.data import Recordings, load_recordings, split_by_recording
from tfxai.signal.export import export_signal_model
from tfxai.signal.layers import SelfAttention1D
from tfxai.signal.models import CNN1D, MODELS, SAN1D, build_model
from tfxai.signal.preprocessing import WindowPreprocessor, fourier_magnitude
from tfxai.signal.report import confusion_matrix, plot_confusion, row_percentages, write_confusion_csv
from tfxai.signal.training import (
    PRESETS,
    SignalTrainingConfig,
    TrainedSignalModel,
    compile_thesis,
    evaluate_recordings,
    load_trained,
    run_signal_training,
    train_signal_model,
)
from tfxai.signal.windows import (
    Vote,
    classify_recording,
    classify_recordings,
    make_windows,
    predict_windows,
    sliding_windows,
    vote,
    window_starts,
)

__all__ = [
    "AttentionTrace",
    "CNN1D",
    "MODELS",
    "PRESETS",
    "Recordings",
    "SAN1D",
    "SelfAttention1D",
    "SignalTrainingConfig",
    "TrainedSignalModel",
    "Vote",
    "WindowPreprocessor",
    "build_model",
    "classify_recording",
    "classify_recordings",
    "compile_thesis",
    "confusion_matrix",
    "evaluate_recordings",
    "export_signal_model",
    "fourier_magnitude",
    "load_recordings",
    "load_trained",
    "make_windows",
    "plot_attention",
    "plot_confusion",
    "predict_windows",
    "recording_attention",
    "row_percentages",
    "run_signal_training",
    "sliding_windows",
    "split_by_recording",
    "train_signal_model",
    "vote",
    "window_starts",
    "write_attention_csv",
    "write_confusion_csv",
]
