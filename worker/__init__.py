"""MIAO AI — worker layer."""
