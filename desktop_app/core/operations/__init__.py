"""Operation descriptors, their registry and the runner shared by the GUI and the CLI."""

from desktop_app.core.operations.apply import apply_operation, apply_variations, variation_label, variation_seeds
from desktop_app.core.operations.base import AUTO, Operation, OperationInput, Param, ParameterError
from desktop_app.core.operations import registry

__all__ = ["AUTO", "Operation", "OperationInput", "Param", "ParameterError", "apply_operation", "apply_variations", "registry",
           "variation_label", "variation_seeds"]
