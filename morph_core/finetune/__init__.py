"""Fine-tuning with few labels (Walmsley+22 §4): labels, model, training, runs."""

from morph_core.finetune.train import FineTuneConfig, Run, finetune

__all__ = ["FineTuneConfig", "Run", "finetune"]
