"""Shipped architectures; importing this package registers them."""

from desktop_app.core.models.archs import unet_denoiser  # noqa: F401
