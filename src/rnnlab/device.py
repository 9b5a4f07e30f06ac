"""Which device a command runs on: `--device auto|cpu|cuda|mps`; auto takes CUDA, then Apple's MPS, then the CPU.
(torch is imported when a device is picked, so that the command line starts without it.)"""
from rnnlab.errors import RnnlabError

DEVICES = ("auto", "cpu", "cuda", "mps")


def mps_available():
    import torch
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def pick_device(name):
    """The torch device name for `name`; RnnlabError if that device is not here."""
    import torch

    if name not in DEVICES:
        raise RnnlabError(f"--device {name}: not one of {', '.join(DEVICES)}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RnnlabError("--device cuda: no CUDA device is available")
    if name == "mps" and not mps_available():
        raise RnnlabError("--device mps: no Apple MPS device is available")
    return name
