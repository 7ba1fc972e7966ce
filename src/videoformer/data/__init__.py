"""Video data: decoding, sampling, transforms, datasets, the synthetic motion set."""
