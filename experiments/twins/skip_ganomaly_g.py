"""Skip-GANomaly generator twin for tests/net_check.c (configs/models/skip_ganomaly_g.yaml):
experiments/twins/skip_ganomaly.py with kind 'g'."""
from . import skip_ganomaly


def build(**params):
    return skip_ganomaly.build(kind="g", **params)
