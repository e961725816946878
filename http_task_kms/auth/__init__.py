"""Signers by credentials type. The core's own is ``aws-sigv4`` (:mod:`.sigv4`)."""
