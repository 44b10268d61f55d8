"""Shipped architectures; importing this package registers them."""

from desktop_app.core.models.archs import inpaint_net, unet_denoiser  # noqa: F401
