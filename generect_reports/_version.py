"""The package version, in a base module so inner modules never import the package root."""

__version__ = "0.1.0"
