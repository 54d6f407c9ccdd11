"""ECG images: from a photo, scan or PDF page to a calibrated 12-lead record, and a renderer to prove it."""
