"""symbackprop: backpropagation derived symbolically, as "When Equations Learn" writes it."""
__version__ = "0.1.0"
