"""Skip-GANomaly discriminator twin for tests/net_check.c (configs/models/skip_ganomaly_d.yaml):
experiments/twins/skip_ganomaly.py with kind 'd'."""
from . import skip_ganomaly


def build(**params):
    return skip_ganomaly.build(kind="d", **params)
