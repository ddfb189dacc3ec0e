"""The on-disk workspace: layout, manifests, fingerprints, locks and status."""
