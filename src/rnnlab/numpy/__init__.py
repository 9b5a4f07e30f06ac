"""The numpy engine: layers with hand-written forward and backward passes, and numpy optimizers.

Nothing here imports torch. Parameter names and layouts mirror rnnlab.nn, so weights move freely
between the engines.
"""
