"""Shipped architectures; importing this package registers them."""

from desktop_app.core.models.archs import generators, inpaint_net, unet_denoiser  # noqa: F401
