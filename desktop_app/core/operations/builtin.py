"""The operations the app ships with. Importing this module registers them."""

from desktop_app.core.operations import classic, inpaint, neural
from desktop_app.core.operations.table import register

# Registry order is the panel's order: object removal first, the app's headline job.
for _op in (inpaint.REMOVE, classic.NLMEANS, classic.TELEA, classic.NS, neural.CNN, neural.CNN_REAL, inpaint.CNN, inpaint.PATCH):
    register(_op)
