"""Dataset building: readers (I/O), cleaning, segmentation, attribution, gold joins and splits."""
