"""Kolmogorov-Arnold Networks (Q1.4): the layer and the network (:mod:`.layer`) and the experiments
that compare them with MLPs (:mod:`.experiments`)."""

from hw5lib.kan.layer import KAN, MLP, KANError, KANLinear, count_parameters, mlp_width_for

__all__ = ["KAN", "MLP", "KANError", "KANLinear", "count_parameters", "mlp_width_for"]
