"""The operations the app ships with. Importing this module registers them."""

from desktop_app.core.operations import classic, inpaint, neural
from desktop_app.core.operations.registry import register

for _op in (classic.NLMEANS, classic.TELEA, classic.NS, neural.CNN, neural.CNN_REAL, inpaint.CNN, inpaint.PATCH):
    register(_op)
