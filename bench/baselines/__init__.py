"""Baseline apps and clients that the product's figures are compared with."""
