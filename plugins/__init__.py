"""daekit's built-in plugins, declared under the ``daekit`` entry-point group like any other."""
