"""MIAO AI — miao layer."""
