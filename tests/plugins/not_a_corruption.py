"""A plugin that registers something that is not a daekit component."""

import daekit


class NotAComponent:
    name = "nothing"


@daekit.hookimpl
def register_corruptions(register):
    register(NotAComponent)
