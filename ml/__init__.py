"""MIAO AI — ml layer."""
