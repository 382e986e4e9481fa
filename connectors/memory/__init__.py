"""The in-process adapters, embedded defaults and test twins: import each from its submodule."""
