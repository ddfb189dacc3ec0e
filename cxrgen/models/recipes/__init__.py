"""Training recipes (`cxrgen list modes`); the interface is in ``base.py``."""
