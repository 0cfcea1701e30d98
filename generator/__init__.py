"""Attention Atlas: compute attention with NumPy and explain it with interactive charts."""

__version__ = "0.1.0"
