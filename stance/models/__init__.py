"""Classifiers behind one scikit-learn-style interface (see :mod:`stance.models.base`)."""
