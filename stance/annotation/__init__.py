"""The annotation package: weak supervision (labelling functions and their aggregation) and
the annotation loop (export/import, agreement, label audit, selection).

* :mod:`stance.annotation.lfs` -- the labelling-function base and ``apply_lfs``; the LF kinds in
  :mod:`~stance.annotation.lfs_lexicon` (lexicons, patterns, claim-rebuttal),
  :mod:`~stance.annotation.lfs_attribution` (speaker and responder sides) and
  :mod:`~stance.annotation.lfs_prototype` (embedding prototypes);
* :mod:`stance.annotation.aggregate` -- majority vote and a Dawid-Skene label model;
* :mod:`stance.annotation.analysis` -- coverage / overlap / conflict / accuracy of LFs;
* :mod:`stance.annotation.training_labels` -- LFs from config, ``apply_label_mode`` for training;
* :mod:`stance.annotation.exchange` -- Label Studio / doccano export and import;
* :mod:`stance.annotation.agreement` -- Cohen's kappa, Krippendorff's alpha, cleanlab label audit;
* :mod:`stance.annotation.select` -- picking the sentences most worth annotating.
"""

from stance.annotation.aggregate import DawidSkene, MajorityVote
from stance.annotation.analysis import lf_analysis
from stance.annotation.lfs import apply_lfs
from stance.annotation.training_labels import (
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
