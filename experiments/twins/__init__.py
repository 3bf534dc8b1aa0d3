"""Independent PyTorch implementations ("twins") of medtrain's model graphs.

Each module exposes build(**params) -> torch.nn.Module whose state_dict names
and layouts equal medtrain's for configs/models/<graph>.yaml built with the
same params, and whose forward returns the graph's outputs (a tensor, or a
tuple in the order of `outputs:`). tests/twin_check.py drives them for
tests/net_check.c; the study experiments use them as PyTorch peers.
"""
