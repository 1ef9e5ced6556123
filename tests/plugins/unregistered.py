"""A plugin whose corruption is not registered with Keras serialization."""

import daekit


class Unregistered(daekit.Corruption):
    name = "unregistered"

    def corrupt(self, images, seed):
        return images


@daekit.hookimpl
def register_corruptions(register):
    register(Unregistered)
