"""The HTML report of one generated split (``cxrgen report``): data assembly, images, plots, template."""
