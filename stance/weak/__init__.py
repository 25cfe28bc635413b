"""Weak supervision and the annotation loop.

* :mod:`stance.weak.lfs` -- labelling functions (attribution, lexicons, patterns, prototypes);
* :mod:`stance.weak.aggregate` -- majority vote and a Dawid-Skene label model;
* :mod:`stance.weak.analysis` -- coverage / overlap / conflict / accuracy of LFs;
* :mod:`stance.weak.training_labels` -- LFs from config, ``apply_label_mode`` for training;
* :mod:`stance.weak.annotation_io` -- Label Studio / doccano export and import;
* :mod:`stance.weak.agreement` -- Cohen's kappa, Krippendorff's alpha, cleanlab label audit;
* :mod:`stance.weak.select` -- picking the sentences most worth annotating.
"""

from stance.weak.aggregate import DawidSkene, MajorityVote
from stance.weak.analysis import lf_analysis
from stance.weak.lfs import apply_lfs
from stance.weak.training_labels import (
    WeakLabeler,
    apply_label_mode,
    labeler_from_config,
    labels_config,
)

__all__ = [
    "DawidSkene",
    "MajorityVote",
    "WeakLabeler",
    "apply_label_mode",
    "apply_lfs",
    "labeler_from_config",
    "labels_config",
    "lf_analysis",
]
