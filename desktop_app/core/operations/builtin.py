"""The operations the app ships with. Importing this module registers them."""

from desktop_app.core.operations import classic, inpaint, neural
from desktop_app.core.operations.table import register

# Registry order is the panel's order, groups (categories) by their first operation: object
# removal first, the app's headline job, then the denoisers, the best first in each.
for _op in (inpaint.REMOVE, inpaint.CNN, inpaint.PATCH, classic.TELEA, classic.NS,
            neural.CNN_REAL, neural.CNN, classic.NLMEANS):
    register(_op)
