"""MIAO AI — backend layer."""
