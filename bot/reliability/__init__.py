"""Reliability layer: reconciler, belief debt, protective stops, guards."""
