"""A plugin with a misspelt hook name: it must be reported, not ignored."""

import daekit


@daekit.hookimpl
def register_corruption(register):  # the hook is register_corruptions
    pass
