"""Images in the core: one convention, converted at the edges.

The convention (used everywhere in `desktop_app.core`):

- pixels are `numpy.float32`, shape `H x W x C`, values in `[0, 1]`;
- `C` is 1 (greyscale), 3 (RGB) or 4 (RGBA, straight alpha); channel order is RGB;
- masks are `float32`, shape `H x W`, `1.0` = selected, soft values allowed.

Files keep their bit depth through `ImageMeta.bit_depth` (8 or 16): loading a 16-bit file and
saving it again writes 16 bits. Tensors (`N x C x H x W`) exist only inside `core.models`.
"""
