"""Console scripts of nova-bm."""
