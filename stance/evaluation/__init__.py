"""Pure evaluation logic: classification metrics, calibration, cluster bootstrap and source bias."""
