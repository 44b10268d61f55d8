"""Models: architecture descriptors and registry, safe weight loading, device choice, tiling.

Tensors exist only here: `N x C x H x W`, float, range [0, 1]. The conversion from the
core's `H x W x C` float32 arrays happens once, in `tiled.py`.
"""
