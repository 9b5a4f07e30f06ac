"""Optimizers written from their update formulas, as drop-in torch.optim.Optimizer classes.

Same class names, constructor arguments and state names as torch.optim (tests check they agree step
for step), plus AdaptiveGains and NTASGD, which torch lacks. The numpy engine's twins of the first
ones are in rnnlab.numpy.optim.
"""
from rnnlab.optim.adam import Adam, Adamax
from rnnlab.optim.adaptive import Adadelta, Adagrad, AdaptiveGains, RMSprop, Rprop
from rnnlab.optim.ntasgd import NTASGD
from rnnlab.optim.sgd import ASGD, SGD

__all__ = ["SGD", "ASGD", "Adagrad", "Adadelta", "RMSprop", "Rprop", "Adam", "Adamax", "AdaptiveGains", "NTASGD"]
